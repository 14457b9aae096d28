import Glibc
public import PerchConfig
public import PerchLog
import PerchIO
public import XMPPAddress
import XMPPClient
import XMPPCore

/// `perch send`: logs in as the configured account under a resource of its own (so a daemon running
/// with the same configuration keeps its session), sends one chat command to a device, waits for
/// its answer, prints it and ends. For scripts and cron: no third-party client that disconnects
/// before the answer comes.
public final class OneShotSender {
    /// How it ended: the exit status and what to print (the answer on stdout, a problem on stderr).
    public struct Outcome: Sendable, Equatable {
        public let status: Int32
        public let answer: String?
        public let problem: String?
    }

    let loop: EventLoop
    let client: XMPPClient
    let device: JID
    let text: String
    let timeout: Int64
    private var outcome: Outcome?
    private var timer: EventLoop.Timer?
    private var messageID = ""
    private var wasOnline = false

    public init(config: Configuration, password: String, proxyCredentials: (user: String, password: String)? = nil, device: JID, text: String, timeout: Int64, logger: Logger) throws {
        loop = try EventLoop()
        var c = Daemon.clientConfiguration(config, password: password, proxyCredentials: proxyCredentials, logger: logger)
        let me = config.account.jid
        var random = SystemRandomNumberGenerator()
        c.jid = try JID(localpart: me.localpart, domainpart: me.domainpart, resourcepart: "perch-send-\(String(UInt32.random(in: 0...UInt32.max, using: &random), radix: 36))")
        // One exchange: nothing to resume, nothing kept, and no retrying past the first failure.
        c.streamManagement = false
        c.resumptionFile = nil
        c.presencePriority = -1
        client = XMPPClient(loop: loop, config: c, logger: logger.with(label: "xmpp"))
        self.device = device
        self.text = text
        self.timeout = timeout
    }

    /// Connects, sends, waits; returns how it ended (the connection is closed by then).
    public func run() -> Outcome {
        client.onStatus = { [unowned self] status in
            switch status {
            case .online:
                self.wasOnline = true
                self.sendCommand()
            case .offline:
                let why = self.client.lastProblem ?? "the connection ended"
                self.finish(Outcome(status: 1, answer: nil, problem: self.wasOnline ? "the connection ended before \(self.device) answered: \(why)" : "cannot log in as \(self.client.config.jid.bare): \(why)"))
            case .connecting, .stopped:
                break
            }
        }
        client.onStanza = { [unowned self] stanza in self.received(stanza) }
        // The whole exchange, log-in included, within the timeout.
        timer = loop.schedule(after: timeout) { [unowned self] in
            self.finish(Outcome(status: 1, answer: nil, problem: self.wasOnline
                ? "no answer from \(self.device) within \(describeDuration(self.timeout)); is it online, and is \(self.client.config.jid.bare) one of its owners or operators?"
                : "could not log in within \(describeDuration(self.timeout)): \(self.client.lastProblem ?? "no answer from the server")"))
        }
        client.start()
        loop.run()
        return outcome ?? Outcome(status: 1, answer: nil, problem: "ended without an answer")
    }

    private func sendCommand() {
        messageID = client.makeID("send")
        _ = client.send(Stanza.message(to: device, body: text, type: "chat", id: messageID))
    }

    func received(_ stanza: XMLElement) {
        guard stanza.stanzaKind == .message, let from = stanza.from else { return }
        // Any resource of the device's account: a message to a resource that is gone is delivered to
        // the account's others, and the one that ran it answers.
        guard from.bare == device.bare else { return }
        if stanza.stanzaType == "error" {
            let e = StanzaError(stanza: stanza)
            return finish(Outcome(status: 1, answer: nil, problem: "\(device) could not be reached: \(e.map { "\($0)" } ?? "an error without a condition")"))
        }
        guard let body = stanza.child("body")?.text else { return }
        // A Perch reply says whether the command was refused; from anything else, an answer is an answer.
        let marker = stanza.child("perch", namespace: "urn:perch:reply")
        let refused = marker?[attribute: "error"] != nil
        finish(Outcome(status: refused ? 1 : 0, answer: body, problem: nil))
    }

    private func finish(_ o: Outcome) {
        guard outcome == nil else { return }
        outcome = o
        timer?.cancel()
        client.stop { [loop] in loop.stop() }
    }
}

@available(*, unavailable)
extension OneShotSender: Sendable {}
