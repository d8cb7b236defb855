/// What a server accepts of a request's options (RFC 2347, 2348, 2349, 7440).
public struct TFTPLimits: Sendable, Hashable {
    /// The largest block size granted; a client asking more gets this (RFC 2348 allows up to 65464).
    public var maximumBlockSize: Int
    /// The largest window granted (RFC 7440 allows 65535; a window is sent as one burst,
    /// so a sane cap keeps one client from flooding the socket buffers).
    public var maximumWindowSize: Int
    /// Retransmission timeout when the client names none, in milliseconds.
    public var defaultTimeoutMilliseconds: Int
    /// Options one request may carry; a request with more is refused (ERROR 8), not negotiated.
    /// Real clients send at most the four this server knows and one or two others.
    public var maximumOptions: Int
    /// Bytes of one option's name, and of its value; a longer one refuses the request the same way.
    public var maximumOptionBytes: Int

    public init(maximumBlockSize: Int = 65464, maximumWindowSize: Int = 64, defaultTimeoutMilliseconds: Int = 1000,
                maximumOptions: Int = 16, maximumOptionBytes: Int = 64) {
        self.maximumBlockSize = min(max(maximumBlockSize, TFTPNegotiation.minimumBlockSize), TFTPNegotiation.largestBlockSize)
        self.maximumWindowSize = min(max(maximumWindowSize, 1), 65535)
        self.defaultTimeoutMilliseconds = max(defaultTimeoutMilliseconds, 1)
        self.maximumOptions = max(maximumOptions, 0)
        self.maximumOptionBytes = max(maximumOptionBytes, 1)
    }

    /// Why a request's options are refused before negotiation, if they are: too many, or one too long.
    public func refusal(of options: [TFTPOption]) -> TFTPOptionRefusal? {
        if options.count > maximumOptions { return .tooMany }
        if options.contains(where: { $0.name.utf8.count > maximumOptionBytes || $0.value.utf8.count > maximumOptionBytes }) {
            return .tooLong
        }
        return nil
    }
}

/// A request whose options are refused whole (ERROR 8, RFC 2347), by reason for counters.
public enum TFTPOptionRefusal: String, Sendable, Hashable {
    case tooMany = "too-many-options"
    case tooLong = "option-too-long"
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
    /// True when the window (or the block size) granted is smaller than the limits allow
    /// because `windowBytes` had to fit the byte budget the caller passed.
    public var reducedToBudget = false

    /// The options this server negotiates: the only names its counters keep.
    public static let knownOptions: Set<String> = ["blksize", "tsize", "timeout", "windowsize"]

    /// Bytes one window occupies as packets (4 header bytes a block): what the transfer buffers.
    public var windowBytes: Int { (4 + blockSize) * windowSize }
    /// The window of a request without options, one 512-byte block: the least any transfer needs.
    public static let minimumWindowBytes = 4 + defaultBlockSize

    /// Negotiates a read request's options for a file of `fileSize` bytes. With a
    /// `windowByteBudget`, the window (then the block size, down to the smallest allowed)
    /// shrinks until `windowBytes` fits it: RFC 2348 and 7440 let a server answer smaller
    /// values than asked, and every client must take them.
    public init(options: [TFTPOption], fileSize: UInt64, limits: TFTPLimits = TFTPLimits(), windowByteBudget: Int? = nil) {
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
        if let windowByteBudget, windowBytes > windowByteBudget { fit(windowByteBudget) }
    }

    private mutating func fit(_ budget: Int) {
        reducedToBudget = true
        windowSize = max(1, budget / (4 + blockSize))
        // Only a block size the OACK names can change: without the option the client reads 512-byte
        // blocks, so callers always grant at least one of those (`minimumWindowBytes`).
        if windowBytes > budget, acknowledged.contains(where: { $0.key == "blksize" }) {
            blockSize = max(Self.minimumBlockSize, budget - 4)
        }
        for index in acknowledged.indices {
            switch acknowledged[index].key {
            case "windowsize": acknowledged[index].value = String(windowSize)
            case "blksize": acknowledged[index].value = String(blockSize)
            default: break
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

    /// `name:reason` for the counters, with every name the server does not negotiate as
    /// `other`: a client chooses the names, and each distinct one would otherwise become a key
    /// that lives as long as the process.
    public var counterKey: String {
        let key = name.lowercased()
        return "\(TFTPNegotiation.knownOptions.contains(key) ? key : "other"):\(reason)"
    }
}
