public import XMPPCore
import XMPPClient

/// How long ago a command was sent, from the XEP-0203 `<delay/>` elements of its stanza.
///
/// A stanza may carry several delays, and any of them may come from the sender: a client can write
/// one with any `from` and any `stamp`, placed before the one a server adds when it stores the message
/// (offline storage stamps `from` = the account's domain). So the first delay proves nothing, and no
/// single one can be trusted by its `from`. What a sender cannot do is remove the server's stamp, so
/// the **oldest** stamp counts: a forged fresh one cannot make a stored command look new, and a forged
/// old one only makes the sender's own command stale.
///
/// A stamp in the future gives a negative age. Clocks differ a little (a board without a real-time
/// clock keeps its last saved time until NTP has answered, and servers drift too), so the executor
/// lets ``futureSkew`` pass and refuses the rest: such a command's age cannot be told, and an action
/// of unknown age is better not done than done an hour late.
public enum CommandAge {
    /// How far in the future a stamp may be and still count as now: 5 minutes. NTP-synchronised clocks
    /// agree to well under a second; a few minutes covers a server or board that drifts between syncs
    /// without letting a forged stamp of hours pass. A board whose clock is wrong by more (no RTC, no
    /// NTP yet) refuses only delayed commands, which is the safe side; commands sent live carry no
    /// delay and are never affected.
    public static let futureSkew: Int64 = 300_000

    /// The age in milliseconds of the command in `stanza` at wall-clock time `now` (Unix ms): now minus
    /// the oldest parseable delay stamp, negative when even that lies in the future. Nil when the stanza
    /// carries no delay (it came live).
    public static func from(stanza: XMLElement, now: Int64) -> Int64? {
        Delay.all(in: stanza).map(\.stamp).min().map { now - $0 }
    }
}
