/// What a server accepts of a request's options (RFC 2347, 2348, 2349, 7440).
public struct TFTPLimits: Sendable, Hashable {
    /// The largest block size granted; a client asking more gets this (RFC 2348 allows up to 65464).
    public var maximumBlockSize: Int
    /// The largest window granted (RFC 7440 allows 65535; a window is sent as one burst,
    /// so a sane cap keeps one client from flooding the socket buffers).
    public var maximumWindowSize: Int
    /// Retransmission timeout when the client names none, in milliseconds.
    public var defaultTimeoutMilliseconds: Int

    public init(maximumBlockSize: Int = 65464, maximumWindowSize: Int = 64, defaultTimeoutMilliseconds: Int = 1000) {
        self.maximumBlockSize = min(max(maximumBlockSize, TFTPNegotiation.minimumBlockSize), TFTPNegotiation.largestBlockSize)
        self.maximumWindowSize = min(max(maximumWindowSize, 1), 65535)
        self.defaultTimeoutMilliseconds = max(defaultTimeoutMilliseconds, 1)
    }
}

/// The parameters of one transfer and the OACK that announces them.
public struct TFTPNegotiation: Sendable, Hashable {
    public static let defaultBlockSize = 512
    public static let minimumBlockSize = 8
    public static let largestBlockSize = 65464

    public var blockSize = TFTPNegotiation.defaultBlockSize
    public var windowSize = 1
    public var timeoutMilliseconds: Int
    /// Accepted options with the values the server grants, in the order the client sent them;
    /// empty means no OACK: data starts at once (RFC 2347).
    public var acknowledged: [TFTPOption] = []
    /// Options not granted, each with why (for counters): `unknown`, `out-of-range`, `not-a-number`, `duplicate`.
    public var ignored: [TFTPIgnoredOption] = []

    /// Negotiates a read request's options for a file of `fileSize` bytes.
    public init(options: [TFTPOption], fileSize: UInt64, limits: TFTPLimits = TFTPLimits()) {
        timeoutMilliseconds = limits.defaultTimeoutMilliseconds
        var seen: Set<String> = []
        for option in options {
            let key = option.key
            guard seen.insert(key).inserted else {
                ignored.append(TFTPIgnoredOption(option.name, "duplicate"))
                continue
            }
            let number = Self.decimal(option.value)
            switch key {
            case "blksize":
                // Below 8 is not a block size a server may grant (RFC 2348): the option is
                // dropped and the transfer runs at 512. Above the cap the client gets the cap.
                guard let number else { ignored.append(TFTPIgnoredOption(option.name, "not-a-number")); continue }
                guard number >= UInt64(Self.minimumBlockSize) else { ignored.append(TFTPIgnoredOption(option.name, "out-of-range")); continue }
                blockSize = Int(min(number, UInt64(limits.maximumBlockSize)))
                acknowledged.append(TFTPOption(option.name, String(blockSize)))
            case "tsize":
                // In a read request the client sends 0 and the server answers the size (RFC 2349).
                guard number != nil else { ignored.append(TFTPIgnoredOption(option.name, "not-a-number")); continue }
                acknowledged.append(TFTPOption(option.name, String(fileSize)))
            case "timeout":
                guard let number else { ignored.append(TFTPIgnoredOption(option.name, "not-a-number")); continue }
                guard (1...255).contains(number) else { ignored.append(TFTPIgnoredOption(option.name, "out-of-range")); continue }
                timeoutMilliseconds = Int(number) * 1000
                acknowledged.append(TFTPOption(option.name, String(number)))
            case "windowsize":
                guard let number else { ignored.append(TFTPIgnoredOption(option.name, "not-a-number")); continue }
                guard number >= 1 else { ignored.append(TFTPIgnoredOption(option.name, "out-of-range")); continue }
                windowSize = Int(min(number, UInt64(limits.maximumWindowSize)))
                acknowledged.append(TFTPOption(option.name, String(windowSize)))
            default:
                ignored.append(TFTPIgnoredOption(option.name, "unknown"))
            }
        }
    }

    /// A plain decimal (digits only, at most 10 of them, so it never overflows).
    static func decimal(_ text: String) -> UInt64? {
        let digits = text.utf8
        guard !digits.isEmpty, digits.count <= 10, digits.allSatisfy({ (48...57).contains($0) }) else { return nil }
        return digits.reduce(0) { $0 * 10 + UInt64($1 - 48) }
    }
}

/// An option a request carried that the server did not grant, and why.
public struct TFTPIgnoredOption: Sendable, Hashable {
    public var name: String
    public var reason: String

    public init(_ name: String, _ reason: String) {
        self.name = name
        self.reason = reason
    }
}
