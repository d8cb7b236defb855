#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation
import Synchronization

/// Runs a hook executable: the event JSON on its stdin, its fields in the environment,
/// in a process group of its own so that a timeout kills whatever it started too.
enum HookProcess {
    enum Outcome: Sendable, Equatable {
        case exited(Int32)
        case signaled(Int32)
        case timedOut
        case cannotStart(String)

        var succeeded: Bool { self == .exited(0) }

        var description: String {
            switch self {
            case .exited(let code): "exited with status \(code)"
            case .signaled(let signal): "killed by signal \(signal)"
            case .timedOut: "timed out"
            case .cannotStart(let why): "cannot start: \(why)"
            }
        }
    }

    /// The process ignores SIGPIPE so that a hook that exits without reading its stdin
    /// costs a failed write, not the server. Set by the first hook run, whoever starts it
    /// (the runner's loop, or a single delivery as in tests): the write below needs it.
    private static let brokenPipesIgnored: Void = { signal(SIGPIPE, SIG_IGN) }()

    static func run(path: String, stdin: [UInt8], environment: [String: String], timeoutSeconds: Int) async -> Outcome {
        Self.brokenPipesIgnored
        var pipe: [Int32] = [0, 0]
        guard Glibc.pipe(&pipe) == 0 else { return .cannotStart(String(cString: strerror(errno))) }
        let (readEnd, writeEnd) = (pipe[0], pipe[1])
        _ = fcntl(writeEnd, F_SETFD, FD_CLOEXEC)

        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_adddup2(&actions, readEnd, 0)
        posix_spawn_file_actions_addclose(&actions, readEnd)
        // Nothing else of zonebootd's reaches the hook: an inherited listening socket would
        // outlive a crashed zonebootd in a hook still running, and keep its port from a restart.
        Self.closeOnExecEverything()

        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        // Its own process group (killed whole on timeout), default signal dispositions (the
        // daemon ignores SIGTERM, SIGHUP and SIGPIPE, which exec would pass on) and no mask.
        var defaults = sigset_t()
        sigemptyset(&defaults)
        for number in [SIGTERM, SIGINT, SIGHUP, SIGPIPE, SIGCHLD] { sigaddset(&defaults, number) }
        posix_spawnattr_setsigdefault(&attributes, &defaults)
        var mask = sigset_t()
        sigemptyset(&mask)
        posix_spawnattr_setsigmask(&attributes, &mask)
        posix_spawnattr_setpgroup(&attributes, 0)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK))

        let argv: [UnsafeMutablePointer<CChar>?] = [strdup(path), nil]
        let envp: [UnsafeMutablePointer<CChar>?] = environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer { for p in argv + envp { free(p) } }
        var pid: pid_t = 0
        let status = posix_spawn(&pid, path, &actions, &attributes, argv, envp)
        close(readEnd)
        guard status == 0 else {
            close(writeEnd)
            return .cannotStart(String(cString: strerror(status)))
        }
        // Hooks yield the CPU to the DHCP path: on a small boot host a burst of hook processes
        // must not delay answers. The group's later children inherit this.
        _ = setpriority(__priority_which_t(PRIO_PGRP.rawValue), id_t(pid), 10)
        // Events are small (well under a pipe's 64 KiB), so this write does not wait for the
        // hook to read; a hook that exits first makes it fail with EPIPE, which is its business.
        stdin.withUnsafeBytes { bytes in _ = write(writeEnd, bytes.baseAddress, bytes.count) }
        close(writeEnd)

        // The exit is waited for on a thread of its own (blocking waitpid: noticed at once, no
        // polling); a timer kills the process group at the timeout, as does cancellation.
        let watch = HookWatch(pid: pid)  // from here on only through the watch
        let timer = Task {
            try await Task.sleep(for: .seconds(timeoutSeconds))
            watch.kill(timedOut: true)
        }
        let exit = await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Int32, Never>) in
                DispatchQueue.global().async { continuation.resume(returning: watch.waitAndReap()) }
            }
        } onCancel: {
            watch.kill(timedOut: false)
        }
        timer.cancel()
        return watch.timedOut ? .timedOut : outcome(exit)
    }

    private static func outcome(_ status: Int32) -> Outcome {
        let signal = status & 0x7f
        return signal == 0 ? .exited((status >> 8) & 0xff) : .signaled(signal)
    }
}

/// A running hook's process group: killed at most once, and never after it was reaped
/// (its id could then name someone else's group).
private final class HookWatch: Sendable {
    private struct State {
        var reaped = false
        var timedOut = false
    }

    private let pid: pid_t
    private let state = Mutex(State())

    init(pid: pid_t) { self.pid = pid }

    func kill(timedOut: Bool) {
        state.withLock { state in
            guard !state.reaped else { return }
            state.timedOut = state.timedOut || timedOut
            _ = Glibc.kill(-pid, SIGKILL)
        }
    }

    /// Blocks until the process exits; then reaps it under the lock, so a kill never races it.
    func waitAndReap() -> Int32 {
        var info = siginfo_t()
        while waitid(P_PID, id_t(pid), &info, WEXITED | WNOWAIT) < 0 && errno == EINTR {}
        return state.withLock { state in
            state.reaped = true
            var status: Int32 = 0
            while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
            return status
        }
    }

    var timedOut: Bool { state.withLock { $0.timedOut } }
}

extension HookProcess {
    /// Marks every descriptor above stderr close-on-exec (sockets opened by libraries that
    /// did not ask for it included), so a spawned hook inherits only stdin, stdout, stderr.
    static func closeOnExecEverything() {
        guard let directory = opendir("/proc/self/fd") else { return }
        defer { closedir(directory) }
        let own = dirfd(directory)
        while let entry = readdir(directory) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
            }
            guard let fd = Int32(name), fd > 2, fd != own else { continue }
            let flags = fcntl(fd, F_GETFD)
            if flags >= 0 && flags & FD_CLOEXEC == 0 { _ = fcntl(fd, F_SETFD, flags | FD_CLOEXEC) }
        }
    }
}
