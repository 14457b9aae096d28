#!/usr/bin/env python3
"""The reference bot on slixmpp, for Benchmarks/compare: the same job as strophe-bot.c.

It logs in with STARTTLS (required) and SCRAM, sends initial presence, echoes every chat message back
to its sender, answers XEP-0199 pings (the xep_0199 plugin, with no keepalive pings of its own) and
acknowledges XEP-0325 control sets (urn:xmpp:iot:control) with an empty result.

usage: slixmpp-bot.py JID PASSWORD HOST PORT CAFILE
Prints "online as JID" on stderr once the session is up.
"""
import asyncio
import signal
import ssl
import sys

import slixmpp
from slixmpp.xmlstream.handler import Callback
from slixmpp.xmlstream.matcher import StanzaPath
from slixmpp.xmlstream import ElementBase, register_stanza_plugin
from slixmpp.stanza import Iq


class ControlSet(ElementBase):
    name = "set"
    namespace = "urn:xmpp:iot:control"
    plugin_attrib = "iot_control_set"


class Bot(slixmpp.ClientXMPP):
    def __init__(self, jid, password, cafile):
        super().__init__(jid, password)
        self.ssl_context = ssl.create_default_context(cafile=cafile)
        self.register_plugin("xep_0199", {"keepalive": False})
        register_stanza_plugin(Iq, ControlSet)
        self.register_handler(Callback("control set", StanzaPath("iq@type=set/iot_control_set"), self.control))
        self.add_event_handler("session_start", self.session_start)
        self.add_event_handler("message", self.message)

    async def session_start(self, event):
        self.send_presence()
        print(f"online as {self.boundjid.full}", file=sys.stderr, flush=True)

    def message(self, msg):
        if msg["type"] in ("chat", "normal") and msg["body"]:
            msg.reply(msg["body"]).send()

    def control(self, iq):
        iq.reply(clear=True).send()


def main():
    if len(sys.argv) != 6:
        print("usage: slixmpp-bot.py JID PASSWORD HOST PORT CAFILE", file=sys.stderr)
        return 2
    jid, password, host, port, cafile = sys.argv[1:]
    bot = Bot(jid, password, cafile)
    bot.enable_direct_tls = False
    bot.enable_starttls = True
    bot.enable_plaintext = False
    loop = asyncio.get_event_loop()
    loop.add_signal_handler(signal.SIGTERM, bot.disconnect)
    loop.add_signal_handler(signal.SIGINT, bot.disconnect)
    bot.connect(host, int(port))
    loop.run_until_complete(bot.disconnected)
    return 0


if __name__ == "__main__":
    sys.exit(main())
