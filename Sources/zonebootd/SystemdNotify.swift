import Foundation
import NIOCore
import Server

/// zonebootd's side of sd_notify: `READY=1` when the startup gate opens (the moment of
/// the "ready" line: every listener bound), `RELOADING=1` … `READY=1` around a SIGHUP,
/// `STOPPING=1` when a stop signal arrives, and `WATCHDOG=1` from the DHCP event loop
/// (`startWatchdog`), so that a loop stuck in a handler stops the pings and systemd
/// restarts the server. Without `NOTIFY_SOCKET` every call does nothing.
struct SystemdNotify: Sendable {
    /// From this process's environment, once.
    static let shared = SystemdNotify(environment: ProcessInfo.processInfo.environment)

    let notifier: SystemdNotifier?
    let watchdogInterval: Duration?

    init(environment: [String: String]) {
        notifier = SystemdNotifier(environment: environment)
        watchdogInterval = SystemdNotifier.watchdogInterval(usec: environment["WATCHDOG_USEC"], pid: environment["WATCHDOG_PID"],
                                                            ownPID: getpid())
    }

    func ready(_ listening: [StartupGate.Listening], revision: Int) {
        let endpoints = listening.map { "\($0.kind) \($0.endpoint)" }.joined(separator: ", ")
        notifier?.send("READY=1\n" + SystemdNotifier.status("revision \(revision); \(endpoints)"))
    }

    /// Before a SIGHUP's reload; systemd (253+) matches it to `systemctl reload` by the monotonic time.
    func reloading() {
        var now = timespec()
        clock_gettime(CLOCK_MONOTONIC, &now)
        let microseconds = Int64(now.tv_sec) * 1_000_000 + Int64(now.tv_nsec) / 1000
        notifier?.send("RELOADING=1\nMONOTONIC_USEC=\(microseconds)\n" + SystemdNotifier.status("reloading"))
    }

    func reloaded(revision: Int) {
        notifier?.send("READY=1\n" + SystemdNotifier.status("revision \(revision) running"))
    }

    func stopping(_ signal: String) {
        notifier?.send("STOPPING=1\n" + SystemdNotifier.status("stopping (\(signal))"))
    }

    /// Pings every `WATCHDOG_USEC`/2 as a task of `loop` (the DHCP event loop): the pings
    /// come only while that loop runs its tasks. nil without a watchdog.
    func startWatchdog(on loop: any EventLoop) -> RepeatedTask? {
        guard let notifier, let interval = watchdogInterval else { return nil }
        let (seconds, attoseconds) = interval.components
        let amount = TimeAmount.nanoseconds(max(1_000_000, seconds * 1_000_000_000 + attoseconds / 1_000_000_000))
        #if DEBUG
        TestLoopStall.install(on: loop)
        #endif
        return loop.scheduleRepeatedTask(initialDelay: .zero, delay: amount) { _ in notifier.send("WATCHDOG=1") }
    }
}

#if DEBUG
/// Test-only (debug builds): `ZONEBOOT_TEST_STALL_DHCP_LOOP=<file>` blocks the DHCP event
/// loop while that file exists (checked every 100 ms, at most 60 s per stall), as a handler
/// stuck in a system call would: DHCP answers and the watchdog pings stop together.
enum TestLoopStall {
    static func install(on loop: any EventLoop) {
        guard let path = ProcessInfo.processInfo.environment["ZONEBOOT_TEST_STALL_DHCP_LOOP"] else { return }
        loop.scheduleRepeatedTask(initialDelay: .milliseconds(100), delay: .milliseconds(100)) { _ in
            let deadline = ContinuousClock.now + .seconds(60)
            while FileManager.default.fileExists(atPath: path), ContinuousClock.now < deadline { usleep(20_000) }
        }
    }
}
#endif
