/// The answer to a GET or HEAD of a static file, from the file's size and version and the
/// request's `Range` and conditional headers: status, headers, and which bytes go out.
/// A HEAD gets the same status and headers as the GET would, and no body.
public struct StaticFileAnswer: Equatable, Sendable {
    /// 200, 206, 304 or 416.
    public let status: Int
    /// Content-Length, Content-Range, Accept-Ranges, ETag, Last-Modified, in that order.
    public let headers: [Header]
    /// The bytes a GET sends (offset and length in the file); nil when the status has no body.
    public let body: (offset: Int, length: Int)?

    public struct Header: Equatable, Sendable {
        public let name: Field
        public let value: String
    }

    public enum Field: String, Sendable {
        case contentLength = "Content-Length", contentRange = "Content-Range", acceptRanges = "Accept-Ranges"
        case eTag = "ETag", lastModified = "Last-Modified"
    }

    /// What the request asked, as the header values it sent.
    public struct Request: Sendable {
        public var range: String?
        public var ifRange: String?
        public var ifNoneMatch: String?
        public var ifModifiedSince: String?

        public init(range: String? = nil, ifRange: String? = nil, ifNoneMatch: String? = nil, ifModifiedSince: String? = nil) {
            self.range = range
            self.ifRange = ifRange
            self.ifNoneMatch = ifNoneMatch
            self.ifModifiedSince = ifModifiedSince
        }
    }

    /// - Parameters:
    ///   - size: the file's size in bytes.
    ///   - modified: its modification time, seconds since 1970.
    ///   - version: what changes whenever its content may have (e.g. inode, size and
    ///     modification time in nanoseconds); quoted into the strong ETag.
    public init(size: Int, modified: Int64, version: String, request: Request) {
        let size = max(size, 0)
        let etag = "\"\(version)\""
        let lastModified = HTTPDate.format(secondsSince1970: modified)
        let validators = [Header(name: .eTag, value: etag), Header(name: .lastModified, value: lastModified)]
        let acceptRanges = Header(name: .acceptRanges, value: "bytes")

        // If-None-Match wins over If-Modified-Since (RFC 9110 §13.1.3), compared weakly.
        let notModified = if let ifNoneMatch = request.ifNoneMatch {
            entityTags(ifNoneMatch).contains { $0 == "*" || weakTag($0) == etag }
        } else {
            request.ifModifiedSince.map(trimmedText) == lastModified
        }
        if notModified {
            self.init(status: 304, headers: [acceptRanges] + validators, body: nil)
            return
        }
        // A Range is honoured only while If-Range names this version (strongly: an exact ETag
        // or the Last-Modified date); otherwise the whole file goes out (RFC 9110 §13.1.5).
        let rangeStillApplies = request.ifRange.map { [etag, lastModified].contains(trimmedText($0)) } ?? true
        let rangeHeader = rangeStillApplies ? request.range : nil
        switch ByteRange(header: rangeHeader, size: size) {
        case .whole:
            self.init(status: 200, headers: [Header(name: .contentLength, value: "\(size)"), acceptRanges] + validators,
                      body: (0, size))
        case .part(let first, let last):
            self.init(status: 206,
                      headers: [Header(name: .contentLength, value: "\(last - first + 1)"),
                                Header(name: .contentRange, value: "bytes \(first)-\(last)/\(size)"), acceptRanges] + validators,
                      body: (first, last - first + 1))
        case .unsatisfiable:
            self.init(status: 416,
                      headers: [Header(name: .contentLength, value: "0"),
                                Header(name: .contentRange, value: "bytes */\(size)"), acceptRanges] + validators,
                      body: nil)
        }
    }

    private init(status: Int, headers: [Header], body: (offset: Int, length: Int)?) {
        self.status = status
        self.headers = headers
        self.body = body
    }

    public static func == (lhs: StaticFileAnswer, rhs: StaticFileAnswer) -> Bool {
        lhs.status == rhs.status && lhs.headers == rhs.headers && lhs.body?.offset == rhs.body?.offset
            && lhs.body?.length == rhs.body?.length
    }
}

/// The tags of an If-None-Match list, trimmed.
private func entityTags(_ list: String) -> [String] {
    list.split(separator: ",").map { trimmedText(String($0)) }
}

/// A tag without its weakness mark: If-None-Match compares weakly.
private func weakTag(_ tag: String) -> String { tag.hasPrefix("W/") ? String(tag.dropFirst(2)) : tag }

private func trimmedText(_ text: String) -> String {
    String(text.drop { $0 == " " || $0 == "\t" }.reversed().drop { $0 == " " || $0 == "\t" }.reversed())
}

/// HTTP dates in the IMF-fixdate form (RFC 9110 §5.6.7): "Sun, 06 Nov 1994 08:49:37 GMT".
public enum HTTPDate {
    /// Instants outside 1970...9999 (a file's clock can say anything) are clamped to them.
    public static func format(secondsSince1970: Int64) -> String {
        let seconds = min(max(secondsSince1970, 0), 253_402_300_799)
        let days = seconds / 86_400, secondOfDay = seconds % 86_400
        let (year, month, day) = civilDate(daysSince1970: days)
        let weekday = Int((days + 4) % 7)  // 1970-01-01 was a Thursday
        let weekdays = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"]
        let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
        return "\(weekdays[weekday]), \(twoDigits(day)) \(months[month - 1]) \(year) "
            + "\(twoDigits(secondOfDay / 3600)):\(twoDigits(secondOfDay / 60 % 60)):\(twoDigits(secondOfDay % 60)) GMT"
    }

    /// Howard Hinnant's days-to-civil conversion (proleptic Gregorian calendar), for days ≥ 0.
    private static func civilDate(daysSince1970 days: Int64) -> (year: Int64, month: Int, day: Int64) {
        let shifted = days + 719_468
        let era = shifted / 146_097
        let dayOfEra = shifted - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let monthIndex = (5 * dayOfYear + 2) / 153
        let day = dayOfYear - (153 * monthIndex + 2) / 5 + 1
        let month = monthIndex < 10 ? monthIndex + 3 : monthIndex - 9
        return (yearOfEra + era * 400 + (month <= 2 ? 1 : 0), Int(month), day)
    }

    private static func twoDigits(_ value: Int64) -> String { value < 10 ? "0\(value)" : "\(value)" }
}
