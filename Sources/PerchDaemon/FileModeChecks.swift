import Glibc
public import PerchConfig

/// Files that hold secrets or readings, checked for modes that let other users read them. Each
/// problem is a sentence saying what is wrong and the chmod that fixes it.
public enum FileModeChecks {
    /// The password file, when the password comes from `account.password_file` and group or others
    /// may read it. A systemd credential is systemd's own private copy, and is not checked.
    public static func passwordFileProblem(_ source: PasswordSource) -> String? {
        guard case .file(let path) = source else { return nil }
        var st = stat()
        guard stat(path, &st) == 0 else { return nil }
        let mode = UInt32(st.st_mode) & 0o7777
        guard mode & 0o044 != 0 else { return nil }
        let who = mode & 0o004 != 0 ? "every user" : "the group \(groupName(st.st_gid))"
        return "the password file \(path) has mode \(octal(mode)): \(who) can read the password. Run chmod 600 \(path) (owned by the user perch runs as), or under systemd pass it with LoadCredential=xmpp-password:\(path)"
    }

    /// The state directory (the outbox of readings, the session state), when group or others may
    /// enter or list it.
    public static func stateDirectoryProblem(_ path: String) -> String? {
        var st = stat()
        guard stat(path, &st) == 0, st.st_mode & S_IFMT == S_IFDIR else { return nil }
        let mode = UInt32(st.st_mode) & 0o7777
        guard mode & 0o077 != 0 else { return nil }
        return "the state directory \(path) has mode \(octal(mode)): other users can reach the readings kept offline and the session state. Run chmod 700 \(path)"
    }

    static func octal(_ mode: UInt32) -> String {
        let digits = String(mode, radix: 8)
        return String(repeating: "0", count: max(0, 4 - digits.count)) + digits
    }

    static func groupName(_ gid: gid_t) -> String {
        if let g = getgrgid(gid), let name = g.pointee.gr_name { return String(cString: name) }
        return String(gid)
    }
}
