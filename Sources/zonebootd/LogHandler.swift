import ArgumentParser
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
        var merged = metadata
        if let provided = metadataProvider?.get() { merged.merge(provided) { _, provided in provided } }
        if let explicit = event.metadata { merged.merge(explicit) { _, explicit in explicit } }
        let line = LogLine(level: event.level, timeMs: LogLine.nowMs(), component: label, message: "\(event.message)",
                           metadata: merged)
        StandardError.write(line.formatted(format))
    }
}

/// Standard error, one whole line per write: lines from several threads never interleave.
enum StandardError {
    private static let lock = Mutex(())

    static func write(_ line: String) {
        var line = line
        lock.withLock { _ in
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
