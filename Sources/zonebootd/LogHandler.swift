import Logging

/// zonebootd's log lines on standard error, as `StreamLogHandler` writes them, with the
/// logger's metadata formatted only for a line that is written.
///
/// `StreamLogHandler` formats its metadata again whenever it changes, and Hummingbird
/// gives every request's logger a request id: each boot script request paid for text
/// that nothing printed. Here metadata is kept as given and handed to the stream handler
/// with each message logged.
struct StandardErrorLogHandler: LogHandler {
    private var stream: StreamLogHandler
    var metadata: Logger.Metadata = [:]

    init(label: String) {
        stream = StreamLogHandler.standardError(label: label)
        // Every logger starts at trace; zonebootd gives its own the level of --log-level.
        stream.logLevel = .trace
    }

    var logLevel: Logger.Level {
        get { stream.logLevel }
        set { stream.logLevel = newValue }
    }

    var metadataProvider: Logger.MetadataProvider? {
        get { stream.metadataProvider }
        set { stream.metadataProvider = newValue }
    }

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        var event = event
        if !metadata.isEmpty { event.metadata = metadata.merging(event.metadata ?? [:]) { _, explicit in explicit } }
        stream.log(event: event)
    }
}
