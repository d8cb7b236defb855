import AdminAPI
import Glibc
import Logging
import Synchronization

/// How zonebootd writes its log lines (`--log-format`).
public enum LogFormat: String, Sendable, CaseIterable {
    /// For people: `2026-12-05T21:14:35.123Z info dhcp: lease granted host=r01u07 mac=...`.
    case text
    /// For log pipelines: one JSON object per line, `{"level":..,"time":..,"component":..,"message":..,<keys>}`.
    case json
}

/// One log line, written as `LogFormat` says: the message first, then the keys.
///
/// Keys come in one order whatever order the caller's metadata dictionary has: the keys
/// operators read first (`LogLine.leadingKeys`: host, location, mac, address ...) in that
/// order, then every other key alphabetically; the same event always reads the same way.
/// Nothing a client sent can forge a line or drive a terminal: in text, control
/// characters are shown as escapes (`terminalEscaped`) and a message's own line breaks
/// continue indented; in JSON, they are escaped as JSON escapes.
public struct LogLine: Sendable {
    public var level: Logger.Level
    /// Milliseconds since the Unix epoch.
    public var timeMs: Int64
    /// The logger's label: which part of the server wrote it (dhcp, http, hooks ...).
    public var component: String
    public var message: String
    public var metadata: Logger.Metadata

    public init(level: Logger.Level, timeMs: Int64, component: String, message: String, metadata: Logger.Metadata) {
        self.level = level
        self.timeMs = timeMs
        self.component = component
        self.message = message
        self.metadata = metadata
    }

    /// Keys shown first, in this order; all others follow alphabetically.
    public static let leadingKeys = [
        "event", "hook", "host", "location", "rack", "unit", "relay", "circuit", "port", "mac", "address", "kind", "discovery",
        "reason", "type", "xid", "revision", "lease", "attempt", "outcome", "duration",
    ]
    /// Fields every JSON line has; a metadata key with one of these names is written as `key_`.
    static let reservedKeys: Set<String> = ["level", "time", "component", "message"]

    /// A key's place among `leadingKeys`, else past them. A switch of short literals: these
    /// compare as two machine words each, where a dictionary would hash every key of every
    /// line (this runs for every lease granted).
    static func rank(_ key: String) -> Int {
        switch key {
        case "event": 0
        case "hook": 1
        case "host": 2
        case "location": 3
        case "rack": 4
        case "unit": 5
        case "relay": 6
        case "circuit": 7
        case "port": 8
        case "mac": 9
        case "address": 10
        case "kind": 11
        case "discovery": 12
        case "reason": 13
        case "type": 14
        case "xid": 15
        case "revision": 16
        case "lease": 17
        case "attempt": 18
        case "outcome": 19
        case "duration": 20
        default: 21
        }
    }

    /// The metadata in the order it is written.
    var orderedEntries: [(key: String, value: Logger.MetadataValue)] {
        // Each leading key into its slot, the few others sorted: no sort moves every entry.
        var leading = [(key: String, value: Logger.MetadataValue)?](repeating: nil, count: Self.leadingKeys.count)
        var others: [(key: String, value: Logger.MetadataValue)] = []
        for (key, value) in metadata {
            let rank = Self.rank(key)
            if rank < leading.count { leading[rank] = (key, value) } else { others.append((key, value)) }
        }
        if others.count > 1 { others.sort { $0.key < $1.key } }
        var entries = leading.compactMap { $0 }
        entries += others
        return entries
    }

    /// The metadata keys in the order they are written.
    public var orderedKeys: [String] { orderedEntries.map(\.key) }

    /// The line, ending in a newline.
    public func formatted(_ format: LogFormat) -> String {
        switch format {
        case .text: text()
        case .json: json()
        }
    }

    // MARK: Text

    private func text() -> String {
        var line = Self.rfc3339(timeMs)
        line.reserveCapacity(96 + message.utf8.count)
        line += " \(level) \(component): "
        line += Self.textMessage(message)
        for (key, value) in orderedEntries {
            line += " "
            line += Self.textValue(key)
            line += "="
            line += Self.textValue(Self.plain(value))
        }
        line += "\n"
        return line
    }

    /// Each line escaped; the message's own line breaks (a plan, a zone error with its
    /// caret) continue indented, so no line of it can pass for a line of its own.
    static func textMessage(_ message: String) -> String {
        guard message.utf8.contains(where: { $0 < 0x20 || $0 >= 0x7F }) else { return message }  // the usual case
        return message.split(separator: "\n", omittingEmptySubsequences: false)
            .map { terminalEscaped(String($0)) }.joined(separator: "\n    ")
    }

    /// As is when it reads as one word (no space, `"` or `=`); else in double quotes, `"` and `\` escaped.
    static func textValue(_ raw: String) -> String {
        // The usual case (names, addresses, numbers): printable ASCII, no space, quote or `=`.
        if !raw.isEmpty && raw.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7F && $0 != UInt8(ascii: "\"") && $0 != UInt8(ascii: "=") }) {
            return raw
        }
        let escaped = terminalEscaped(raw)
        let bare = !escaped.isEmpty && !escaped.utf8.contains {
            $0 == UInt8(ascii: " ") || $0 == UInt8(ascii: "\"") || $0 == UInt8(ascii: "=")
        }
        if bare { return escaped }
        var quoted = "\""
        for character in escaped.unicodeScalars {
            if character == "\"" || character == "\\" { quoted += "\\" }
            quoted.unicodeScalars.append(character)
        }
        return quoted + "\""
    }

    /// A value as text: lists comma-separated, dictionaries as `key:value` pairs sorted by key.
    static func plain(_ value: Logger.MetadataValue) -> String {
        switch value {
        case .string(let text): text
        case .stringConvertible(let convertible): convertible.description
        case .array(let items): items.map(plain).joined(separator: ",")
        case .dictionary(let entries): entries.sorted { $0.key < $1.key }.map { "\($0.key):\(plain($0.value))" }.joined(separator: ",")
        }
    }

    // MARK: JSON

    private func json() -> String {
        var line = "{\"level\":\"\(level)\",\"time\":\"\(Self.rfc3339(timeMs))\",\"component\":"
        line.reserveCapacity(128 + message.utf8.count)
        Self.jsonString(component, into: &line)
        line += ",\"message\":"
        Self.jsonString(message, into: &line)
        for (key, value) in orderedEntries {
            line += ","
            Self.jsonString(Self.reservedKeys.contains(key) ? key + "_" : key, into: &line)
            line += ":"
            Self.jsonValue(value, into: &line)
        }
        line += "}\n"
        return line
    }

    static func jsonValue(_ value: Logger.MetadataValue, into line: inout String) {
        switch value {
        case .string(let text): jsonString(text, into: &line)
        case .stringConvertible(let convertible): jsonString(convertible.description, into: &line)
        case .array(let items):
            line += "["
            for (index, item) in items.enumerated() {
                if index > 0 { line += "," }
                jsonValue(item, into: &line)
            }
            line += "]"
        case .dictionary(let entries):
            line += "{"
            for (index, entry) in entries.sorted(by: { $0.key < $1.key }).enumerated() {
                if index > 0 { line += "," }
                jsonString(entry.key, into: &line)
                line += ":"
                jsonValue(entry.value, into: &line)
            }
            line += "}"
        }
    }

    /// A JSON string. Besides what JSON requires (`"`, `\`, U+0000 to U+001F), DEL, the C1
    /// controls and the bidirectional overrides are written as `\u` escapes: a JSON log read
    /// on a terminal (`tail`, `less -R`) obeys none of them either.
    static func jsonString(_ text: String, into line: inout String) {
        line += "\""
        guard text.unicodeScalars.contains(where: jsonEscapes) else {
            line += text
            line += "\""
            return
        }
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": line += "\\\""
            case "\\": line += "\\\\"
            case "\n": line += "\\n"
            case "\r": line += "\\r"
            case "\t": line += "\\t"
            case _ where jsonEscapes(scalar):
                let hex = String(scalar.value, radix: 16)
                line += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            default: line.unicodeScalars.append(scalar)
            }
        }
        line += "\""
    }

    private static func jsonEscapes(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar.value {
        case 0x00...0x1F, 0x22, 0x5C, 0x7F...0x9F, 0x202A...0x202E, 0x2066...0x2069: true
        default: false
        }
    }

    // MARK: Time

    /// RFC 3339 in UTC with milliseconds: `2026-12-05T21:14:35.123Z`.
    public static func rfc3339(_ timeMs: Int64) -> String {
        let second = timeMs >= 0 ? timeMs / 1000 : (timeMs - 999) / 1000
        let milliseconds = Int32(timeMs - second * 1000)
        // Lines come many to a second: the calendar part is worked out once per second.
        let prefix = lastSecond.withLock { last in
            if last.second == second, let prefix = last.prefix { return prefix }
            let prefix = calendarPrefix(second)
            last = (second, prefix)
            return prefix
        }
        return prefix + pad(milliseconds, 3) + "Z"
    }

    private static let lastSecond = Mutex<(second: Int64, prefix: String?)>((0, nil))

    /// `2026-12-05T21:14:35.` for a second since the epoch.
    private static func calendarPrefix(_ second: Int64) -> String {
        var seconds = time_t(second)
        var fields = tm()
        guard gmtime_r(&seconds, &fields) != nil else { return "1970-01-01T00:00:00." }
        return "\(pad(fields.tm_year + 1900, 4))-\(pad(fields.tm_mon + 1, 2))-\(pad(fields.tm_mday, 2))T"
            + "\(pad(fields.tm_hour, 2)):\(pad(fields.tm_min, 2)):\(pad(fields.tm_sec, 2))."
    }

    private static func pad(_ value: Int32, _ width: Int) -> String {
        let digits = String(value)
        return digits.count >= width ? digits : String(repeating: "0", count: width - digits.count) + digits
    }

    /// Now, in milliseconds since the Unix epoch.
    public static func nowMs() -> Int64 {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        return Int64(now.tv_sec) * 1000 + Int64(now.tv_nsec) / 1_000_000
    }
}
