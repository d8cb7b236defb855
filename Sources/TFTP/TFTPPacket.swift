/// TFTP opcodes (RFC 1350, and OACK from RFC 2347).
public enum TFTPOpcode: UInt16, Sendable, CaseIterable {
    case readRequest = 1
    case writeRequest = 2
    case data = 3
    case acknowledgement = 4
    case error = 5
    case optionAcknowledgement = 6
}

/// TFTP error codes (RFC 1350, and 8 from RFC 2347).
public enum TFTPErrorCode: UInt16, Sendable {
    case notDefined = 0
    case fileNotFound = 1
    case accessViolation = 2
    case diskFull = 3
    case illegalOperation = 4
    case unknownTransferID = 5
    case fileExists = 6
    case noSuchUser = 7
    case optionNegotiationRefused = 8
}

/// One option of a request or an OACK. Names compare case-insensitively when negotiated
/// (RFC 2347); the packet keeps them as sent so a round trip gives back the same bytes.
public struct TFTPOption: Sendable, Hashable {
    public var name: String
    public var value: String

    public init(_ name: String, _ value: String) {
        self.name = name
        self.value = value
    }

    /// The name as negotiation compares it.
    public var key: String { name.lowercased() }
}

/// A read or write request: file name, transfer mode and options.
public struct TFTPRequest: Sendable, Hashable {
    public var filename: String
    public var mode: String
    public var options: [TFTPOption]

    public init(filename: String, mode: String = "octet", options: [TFTPOption] = []) {
        self.filename = filename
        self.mode = mode
        self.options = options
    }
}

/// One TFTP datagram.
public enum TFTPPacket: Sendable, Hashable {
    case readRequest(TFTPRequest)
    case writeRequest(TFTPRequest)
    case data(block: UInt16, payload: [UInt8])
    case acknowledgement(block: UInt16)
    case error(code: UInt16, message: String)
    case optionAcknowledgement([TFTPOption])

    public var opcode: TFTPOpcode {
        switch self {
        case .readRequest: .readRequest
        case .writeRequest: .writeRequest
        case .data: .data
        case .acknowledgement: .acknowledgement
        case .error: .error
        case .optionAcknowledgement: .optionAcknowledgement
        }
    }
}

/// Why a datagram is not a TFTP packet. `reason` names it for counters.
public enum TFTPParseError: Error, Sendable, Hashable {
    /// Fewer than the two bytes of an opcode, or a fixed field cut short.
    case truncated
    case unknownOpcode(UInt16)
    /// A request or OACK string without its terminating NUL.
    case unterminatedString
    /// A string that is not UTF-8 (names and options are text).
    case invalidText
    /// An option name without a value.
    case unpairedOption
    /// An empty file name or mode in a request.
    case emptyField

    public var reason: String {
        switch self {
        case .truncated: "truncated"
        case .unknownOpcode: "unknown-opcode"
        case .unterminatedString: "unterminated-string"
        case .invalidText: "invalid-text"
        case .unpairedOption: "unpaired-option"
        case .emptyField: "empty-field"
        }
    }
}

extension TFTPPacket {
    /// Parses one datagram. Total: any byte sequence gives a packet or an error.
    public init(parsing bytes: [UInt8]) throws(TFTPParseError) {
        var reader = TFTPByteReader(bytes)
        guard let raw = reader.u16() else { throw .truncated }
        guard let opcode = TFTPOpcode(rawValue: raw) else { throw .unknownOpcode(raw) }
        switch opcode {
        case .readRequest: self = .readRequest(try Self.request(&reader))
        case .writeRequest: self = .writeRequest(try Self.request(&reader))
        case .data:
            guard let block = reader.u16() else { throw .truncated }
            self = .data(block: block, payload: reader.rest())
        case .acknowledgement:
            // Trailing bytes after the block number are tolerated: some ROMs pad small datagrams.
            guard let block = reader.u16() else { throw .truncated }
            self = .acknowledgement(block: block)
        case .error:
            guard let code = reader.u16() else { throw .truncated }
            // A message without its NUL is taken whole: the error still ends the transfer.
            let message = reader.zeroTerminated() ?? reader.rest()
            self = .error(code: code, message: try Self.text(message))
        case .optionAcknowledgement:
            self = .optionAcknowledgement(try Self.options(&reader))
        }
    }

    private static func request(_ reader: inout TFTPByteReader) throws(TFTPParseError) -> TFTPRequest {
        guard let filename = reader.zeroTerminated(), let mode = reader.zeroTerminated() else { throw .unterminatedString }
        guard !filename.isEmpty, !mode.isEmpty else { throw .emptyField }
        return TFTPRequest(filename: try text(filename), mode: try text(mode), options: try options(&reader))
    }

    private static func options(_ reader: inout TFTPByteReader) throws(TFTPParseError) -> [TFTPOption] {
        var options: [TFTPOption] = []
        while !reader.isAtEnd {
            guard let name = reader.zeroTerminated() else { throw .unterminatedString }
            guard let value = reader.zeroTerminated() else {
                throw reader.isAtEnd ? .unpairedOption : .unterminatedString
            }
            options.append(TFTPOption(try text(name), try text(value)))
        }
        return options
    }

    private static func text(_ bytes: [UInt8]) throws(TFTPParseError) -> String {
        guard let text = String(validating: bytes, as: UTF8.self) else { throw .invalidText }
        return text
    }

    /// The datagram. Strings must not contain NUL (the wire has no way to say it);
    /// everything `init(parsing:)` returns satisfies that, so parsing the result gives this packet back.
    public func serialized() -> [UInt8] {
        var bytes: [UInt8] = []
        bytes.appendTFTPU16(opcode.rawValue)
        switch self {
        case .readRequest(let request), .writeRequest(let request):
            bytes.appendZeroTerminated(request.filename)
            bytes.appendZeroTerminated(request.mode)
            Self.append(request.options, to: &bytes)
        case .data(let block, let payload):
            bytes.reserveCapacity(4 + payload.count)
            bytes.appendTFTPU16(block)
            bytes.append(contentsOf: payload)
        case .acknowledgement(let block):
            bytes.appendTFTPU16(block)
        case .error(let code, let message):
            bytes.appendTFTPU16(code)
            bytes.appendZeroTerminated(message)
        case .optionAcknowledgement(let options):
            Self.append(options, to: &bytes)
        }
        return bytes
    }

    private static func append(_ options: [TFTPOption], to bytes: inout [UInt8]) {
        for option in options {
            bytes.appendZeroTerminated(option.name)
            bytes.appendZeroTerminated(option.value)
        }
    }

    /// An ERROR packet with a standard code.
    public static func error(_ code: TFTPErrorCode, _ message: String) -> TFTPPacket {
        .error(code: code.rawValue, message: message)
    }
}
