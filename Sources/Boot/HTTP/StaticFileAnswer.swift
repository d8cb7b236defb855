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
        let time = CivilTime(secondsSince1970: seconds)
        let weekdays = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"]
        let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
        let two = CivilTime.twoDigits
        return "\(weekdays[time.weekday]), \(two(time.day)) \(months[Int(time.month) - 1]) \(time.year) "
            + "\(two(time.hour)):\(two(time.minute)):\(two(time.second)) GMT"
    }
}
