public import PerchCrypto

/// SCRAM client (RFC 5802; SHA-256 per RFC 7677), optionally with channel binding (`-PLUS`).
///
/// The exchange: client-first (`n,,n=user,r=cnonce`), server-first (`r=cnonce+snonce,s=salt,i=count`),
/// client-final (`c=gs2header+cbdata,r=nonce,p=proof`), server-final (`v=signature`). The server's signature
/// is checked, so a successful exchange also authenticates the server.
public struct SCRAM: SASLMechanism {
    /// Whether and how channel binding is used (RFC 5802 §6, the gs2 header's first field).
    public enum Binding: Sendable, Hashable {
        /// `n`: this client does not support channel binding (no TLS, or no binding data available).
        case unsupported
        /// `y`: the client supports it but believes the server does not (it did not offer -PLUS).
        /// A server that did offer -PLUS must then fail the exchange: this detects a downgrade.
        case supportedNotOffered
        /// `p=type`: channel binding in use; the mechanism name ends in `-PLUS`.
        case bound(ChannelBinding)
    }

    public let algorithm: DigestAlgorithm
    public let binding: Binding
    public var name: String {
        let base = algorithm == .sha1 ? "SCRAM-SHA-1" : "SCRAM-SHA-256"
        if case .bound = binding { return base + "-PLUS" }
        return base
    }

    /// The bounds on the server's iteration count: below the minimum is unsafe (RFC 7677 §4 asks for at
    /// least 4096), above the maximum would stall a small board for minutes.
    public static let minimumIterations = 4096
    public static let maximumIterations = 1_000_000

    private let username: String
    private let password: String
    private let clientNonce: String
    private var clientFirstBare = ""
    private var expectedServerSignature: [UInt8]?
    private var cache: SCRAMCache?
    public private(set) var serverVerified = false

    /// - Parameters:
    ///   - username, password: already SASLprep'd (``SASLPrep/prepare(_:what:stored:)``).
    ///   - clientNonce: for tests only; by default 24 random bytes, base64-encoded.
    ///   - cache: remembers the salted password between connections so a reconnect does not pay PBKDF2
    ///     again while the server's salt and count are unchanged.
    public init(algorithm: DigestAlgorithm, username: String, password: String, binding: Binding = .unsupported, clientNonce: String? = nil, cache: SCRAMCache? = nil) {
        self.algorithm = algorithm
        self.username = username
        self.password = password
        self.binding = binding
        self.clientNonce = clientNonce ?? SecureRandom.token(byteCount: 24)
        self.cache = cache
    }

    var gs2Header: String {
        switch binding {
        case .unsupported: return "n,,"
        case .supportedNotOffered: return "y,,"
        case .bound(let cb): return "p=\(cb.type),,"
        }
    }

    public mutating func initialResponse() -> [UInt8] {
        clientFirstBare = "n=\(SASLPrep.scramName(username)),r=\(clientNonce)"
        return Array((gs2Header + clientFirstBare).utf8)
    }

    public mutating func respond(to challenge: [UInt8]) throws(SASLError) -> [UInt8] {
        guard expectedServerSignature == nil else {
            throw SASLError(.malformedChallenge, "the server sent a second SCRAM challenge")
        }
        guard let serverFirst = String(validating: challenge, as: UTF8.self) else {
            throw SASLError(.malformedChallenge, "the server's SCRAM message is not UTF-8")
        }
        let fields = try Self.fields(serverFirst)
        if fields["m"] != nil { throw SASLError(.malformedChallenge, "the server requires a SCRAM extension we do not know") }
        if let e = fields["e"] { throw SASLError(.serverError, "the server refused: \(e)") }
        guard let nonce = fields["r"], let saltB64 = fields["s"], let iterString = fields["i"] else {
            throw SASLError(.malformedChallenge, "the server's SCRAM message lacks r, s or i")
        }
        guard nonce.hasPrefix(clientNonce), nonce.count > clientNonce.count else {
            throw SASLError(.nonceMismatch, "the server's nonce does not extend ours")
        }
        guard let salt = Base64.decode(saltB64), !salt.isEmpty else {
            throw SASLError(.malformedChallenge, "the server's salt is not valid base64")
        }
        guard let iterations = Int(iterString), iterations > 0 else {
            throw SASLError(.malformedChallenge, "the server's iteration count is not a number")
        }
        guard iterations >= Self.minimumIterations, iterations <= Self.maximumIterations else {
            throw SASLError(
                .unacceptableIterationCount,
                "the server asks for \(iterations) SCRAM iterations; Perch accepts \(Self.minimumIterations) to \(Self.maximumIterations)")
        }

        var cbInput = Array(gs2Header.utf8)
        if case .bound(let cb) = binding { cbInput += cb.data }
        let clientFinalWithoutProof = "c=\(Base64.encode(cbInput)),r=\(nonce)"
        let authMessage = Array("\(clientFirstBare),\(serverFirst),\(clientFinalWithoutProof)".utf8)

        var salted = saltedPassword(salt: salt, iterations: iterations)
        defer { secureZero(&salted) }
        let clientKey = algorithm.hmac(key: salted, Array("Client Key".utf8))
        let storedKey = algorithm.hash(clientKey)
        let clientSignature = algorithm.hmac(key: storedKey, authMessage)
        let proof = zip(clientKey, clientSignature).map { $0 ^ $1 }
        let serverKey = algorithm.hmac(key: salted, Array("Server Key".utf8))
        expectedServerSignature = algorithm.hmac(key: serverKey, authMessage)
        return Array("\(clientFinalWithoutProof),p=\(Base64.encode(proof))".utf8)
    }

    public mutating func verifySuccess(_ data: [UInt8]) throws(SASLError) {
        guard let expected = expectedServerSignature else {
            throw SASLError(.malformedChallenge, "the server reported success before the SCRAM exchange finished")
        }
        guard let text = String(validating: data, as: UTF8.self) else {
            throw SASLError(.malformedChallenge, "the server's final SCRAM message is not UTF-8")
        }
        let fields = try Self.fields(text)
        if let e = fields["e"] { throw SASLError(.serverError, "the server refused: \(e)") }
        guard let v = fields["v"], let signature = Base64.decode(v) else {
            throw SASLError(.malformedChallenge, "the server's final SCRAM message has no signature")
        }
        // Constant-time comparison.
        guard signature.count == expected.count, zip(signature, expected).reduce(0, { $0 | ($1.0 ^ $1.1) }) == 0 else {
            throw SASLError(.serverSignatureMismatch, "the server's SCRAM signature is wrong: it does not hold this account's key, or the connection is intercepted")
        }
        serverVerified = true
    }

    private func saltedPassword(salt: [UInt8], iterations: Int) -> [UInt8] {
        if let cache, let hit = cache.lookup(algorithm: algorithm, salt: salt, iterations: iterations) { return hit }
        let value = algorithm.pbkdf2(password: Array(password.utf8), salt: salt, iterations: iterations)
        cache?.store(algorithm: algorithm, salt: salt, iterations: iterations, value: value)
        return value
    }

    /// Splits `a=1,b=2` into a dictionary. Attribute names are single letters (RFC 5802 §7).
    static func fields(_ s: String) throws(SASLError) -> [String: String] {
        var out: [String: String] = [:]
        for part in s.split(separator: ",", omittingEmptySubsequences: false) {
            guard part.count >= 2, part.dropFirst().first == "=", let key = part.first, key.isLetter else {
                throw SASLError(.malformedChallenge, "the server's SCRAM message is malformed")
            }
            out[String(key)] = String(part.dropFirst(2))
        }
        return out
    }
}

/// Remembers SCRAM salted passwords by (algorithm, salt, iterations), so that reconnecting to the same
/// account does not repeat thousands of PBKDF2 iterations on a slow CPU. Held in memory only.
public final class SCRAMCache {
    private struct Key: Hashable {
        var algorithm: DigestAlgorithm
        var salt: [UInt8]
        var iterations: Int
    }
    private var entries: [Key: [UInt8]] = [:]

    public init() {}

    func lookup(algorithm: DigestAlgorithm, salt: [UInt8], iterations: Int) -> [UInt8]? {
        entries[Key(algorithm: algorithm, salt: salt, iterations: iterations)]
    }

    func store(algorithm: DigestAlgorithm, salt: [UInt8], iterations: Int, value: [UInt8]) {
        // One account per daemon: keep only the latest entry.
        entries.removeAll()
        entries[Key(algorithm: algorithm, salt: salt, iterations: iterations)] = value
    }

    /// Forgets everything (after an authentication failure, the cached key may be for an old password).
    public func clear() { entries.removeAll() }
}

@available(*, unavailable)
extension SCRAMCache: Sendable {}
