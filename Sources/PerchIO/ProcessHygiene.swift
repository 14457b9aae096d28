internal import CLinux
import Glibc

/// What the daemon does to its own process before it reads a secret or writes a file.
public enum ProcessHygiene {
    /// Files and directories created from now on are the owner's only (umask 077), whatever the
    /// umask of the shell or service manager that started us: the state directory, the outbox and its
    /// -wal/-shm, the session state. The shipped unit sets UMask=0077 too; this covers a manual start.
    public static func restrictNewFileModes() {
        umask(0o077)
    }

    /// No core file (it would hold the password and the session), and no ptrace attach or reading of
    /// /proc/PID/mem, environ or fd by other processes of the same user; root still can. Children
    /// (command sensors) get the default back when they exec.
    public static func disableCoreDumps() {
        var none = rlimit(rlim_cur: 0, rlim_max: 0)
        _ = setrlimit(__rlimit_resource_t(RLIMIT_CORE.rawValue), &none)
        _ = perch_set_dumpable(0)
    }

    /// Whether the process is marked dumpable (for tests and `doctor`-style checks).
    public static var isDumpable: Bool { perch_get_dumpable() == 1 }

    /// Removes `name` from the environment and overwrites its value first: the initial environment
    /// stays in the process's memory, where /proc/PID/environ shows it, after `unsetenv`.
    public static func forgetEnvironmentVariable(_ name: String) {
        let prefix = Array((name + "=").utf8)
        var entry = environ
        while let p = entry.pointee {
            // Every entry of that name (a hand-made environment can hold two): compare, then zero the value.
            if (0..<prefix.count).allSatisfy({ UInt8(bitPattern: p[$0]) == prefix[$0] }) {
                let value = p + prefix.count
                memset(value, 0, strlen(value))
            }
            entry += 1
        }
        unsetenv(name)
    }
}
