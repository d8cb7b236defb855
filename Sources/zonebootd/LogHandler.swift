import ArgumentParser
import Dispatch
import Glibc
import Logging
import Server
import Synchronization

/// zonebootd's log lines on standard error, in the `--log-format` (`LogLine`): the message
/// first, then the keys; the component is the logger's label.
///
/// Metadata is kept as given and formatted only for a line that is written: Hummingbird
/// gives every request's logger a request id, and nothing should be paid for text that
/// nothing prints. swift-log evaluates a call's message and metadata only when its level
/// is enabled, so a disabled line costs a comparison.
struct StandardErrorLogHandler: LogHandler {
    let label: String
    let format: LogFormat
    var metadata: Logger.Metadata = [:]
    var metadataProvider: Logger.MetadataProvider?
    // Every logger starts at trace; zonebootd gives its own the level of --log-level.
    var logLevel: Logger.Level = .trace

    init(label: String, format: LogFormat) {
        self.label = label
        self.format = format
    }

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        var merged: Logger.Metadata
        if metadata.isEmpty && metadataProvider == nil {
            // The usual case (a lease line): the call's own keys, not copied into a new dictionary.
            merged = event.metadata ?? [:]
        } else {
            merged = metadata
            if let provided = metadataProvider?.get() { merged.merge(provided) { _, provided in provided } }
            if let explicit = event.metadata { merged.merge(explicit) { _, explicit in explicit } }
        }
        let line = LogLine(level: event.level, timeMs: LogLine.nowMs(), component: label, message: "\(event.message)",
                           metadata: merged)
        StandardError.log(line, format: format)
    }
}

/// Standard error, written from one thread of its own: a line is formatted and written
/// there, so the thread that logs it (the DHCP event loop, for a lease granted) pays only
/// for handing it over. Measured with perf under bench/dhcp_load: formatting and writing on
/// the DHCP loop took about a tenth of its time at 6,000 DORA/s.
///
/// Lines keep their order; those waiting are written together, in one write where they
/// fit. Lines at error and above wait until they are written (the process may be about to
/// exit); `flush` waits for every line handed over. At most `maximumPending` lines wait:
/// when standard error stalls (a blocked pipe), further lines are dropped and counted, and
/// the next write says how many, rather than the server's memory growing or its DHCP loop
/// blocking.
enum StandardError {
    static let maximumPending = 10_000

    private struct Waiting {
        var lines: [(LogLine, LogFormat)] = []
        /// A drain is queued: lines added meanwhile are written by it.
        var scheduled = false
        var dropped = 0
    }

    private static let queue = DispatchQueue(label: "zonebootd.log")
    private static let waiting = Mutex(Waiting())

    /// The last warnings and errors, for `GET /v1/status`.
    static let recentProblems = RecentProblems()

    static func log(_ line: LogLine, format: LogFormat) {
        recentProblems.record(line)
        if line.level >= .error {
            queue.sync {
                drain()
                write(line.formatted(format))
            }
            return
        }
        let schedule = waiting.withLock { waiting -> Bool in
            guard waiting.lines.count < maximumPending else {
                waiting.dropped += 1
                return false
            }
            waiting.lines.append((line, format))
            defer { waiting.scheduled = true }
            return !waiting.scheduled
        }
        if schedule { queue.async { drain() } }
    }

    /// Returns once every line logged before it is written.
    static func flush() { queue.sync { drain() } }

    /// On `queue`: writes what waits, until nothing does.
    private static func drain() {
        while true {
            let (lines, dropped) = waiting.withLock { waiting in
                let taken = (waiting.lines, waiting.dropped)
                waiting.lines = []
                waiting.dropped = 0
                // Nothing left: the next line logged queues a drain again.
                if taken.0.isEmpty && taken.1 == 0 { waiting.scheduled = false }
                return taken
            }
            guard !lines.isEmpty || dropped > 0 else { return }
            var text = ""
            if dropped > 0, let (first, format) = lines.first {
                text += LogLine(level: .warning, timeMs: first.timeMs, component: "zonebootd",
                                message: "log lines dropped: standard error did not keep up",
                                metadata: ["count": .string(String(dropped))]).formatted(format)
            }
            for (line, format) in lines { text += line.formatted(format) }
            write(text)
        }
    }

    /// One whole line per write(2) where the kernel allows, retried until all of it is out.
    private static func write(_ line: String) {
        var line = line
        line.withUTF8 { bytes in
            var offset = 0
            while offset < bytes.count {
                let written = Glibc.write(2, bytes.baseAddress.map { $0 + offset }, bytes.count - offset)
                if written > 0 {
                    offset += written
                } else if written < 0 && errno == EINTR {
                    continue
                } else {
                    return  // nowhere to report it: the line is lost, the server goes on
                }
            }
        }
    }
}

extension LogFormat: ExpressibleByArgument {}

extension Logger {
    /// A logger for one part of the server (dhcp, http, admin, tftp, hooks) at this one's
    /// level: its label is the `component` of its lines.
    func component(_ name: String) -> Logger {
        var logger = Logger(label: name)
        logger.logLevel = logLevel
        return logger
    }
}
