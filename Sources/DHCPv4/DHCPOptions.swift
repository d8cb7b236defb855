/// The option codes this server reads or writes (RFC 2132 and later), each with the one
/// name it is printed under (`zonectl render` and its JSON). Other codes pass through
/// the codec as plain bytes: `DHCPOption.code` stays the wire byte.
public enum DHCPOptionCode: UInt8, Sendable, Hashable, CaseIterable, Comparable {
    case pad = 0
    case subnetMask = 1
    case router = 3
    case domainNameServers = 6
    case hostName = 12
    case domainName = 15
    case ntpServers = 42
    case vendorSpecific = 43
    case requestedAddress = 50
    case leaseTime = 51
    case overload = 52
    case messageType = 53
    case serverIdentifier = 54
    case parameterRequestList = 55
    case message = 56
    case maximumMessageSize = 57
    case renewalTime = 58
    case rebindingTime = 59
    case vendorClass = 60
    case clientIdentifier = 61
    case tftpServerName = 66
    case bootFileName = 67
    case userClass = 77
    case relayAgentInformation = 82
    case clientArchitecture = 93
    case clientNetworkInterface = 94
    case clientMachineID = 97
    /// RFC 3679 `default-url`: ONIE's exact installer URL.
    case defaultURL = 114
    /// RFC 3925 Vendor-Identifying Vendor Class.
    case vendorIdentifyingClass = 124
    /// RFC 3925 Vendor-Identifying Vendor-Specific Information (ONIE: enterprise 42623).
    case vendorIdentifyingOptions = 125
    case ipxeEncapsulated = 175
    /// Site-specific 239: the provisioning script URL Cumulus Linux ZTP
    /// (`cumulus-provision-url`) and SONiC ZTP (`ztp_provisioning_script_url`) read.
    case provisioningScriptURL = 239
    case end = 255

    /// The lease's times (51, 58, 59): what an address lease carries and an INFORM's
    /// answer, which gives no address, leaves out (RFC 2131 §3.4).
    public static let leaseTimes: Set<DHCPOptionCode> = [.leaseTime, .renewalTime, .rebindingTime]

    /// The name printed for the option: RFC 2132's title in lower-case words with hyphens,
    /// or the name the client that reads it uses (`cumulus-provision-url`, `vivso`).
    public var name: String {
        switch self {
        case .pad: "pad"
        case .subnetMask: "subnet-mask"
        case .router: "router"
        case .domainNameServers: "domain-name-servers"
        case .hostName: "host-name"
        case .domainName: "domain-name"
        case .ntpServers: "ntp-servers"
        case .vendorSpecific: "vendor-encapsulated-options"
        case .requestedAddress: "requested-address"
        case .leaseTime: "lease-time"
        case .overload: "option-overload"
        case .messageType: "message-type"
        case .serverIdentifier: "server-identifier"
        case .parameterRequestList: "parameter-request-list"
        case .message: "message"
        case .maximumMessageSize: "maximum-message-size"
        case .renewalTime: "renewal-time"
        case .rebindingTime: "rebinding-time"
        case .vendorClass: "vendor-class-identifier"
        case .clientIdentifier: "client-identifier"
        case .tftpServerName: "tftp-server-name"
        case .bootFileName: "bootfile-name"
        case .userClass: "user-class"
        case .relayAgentInformation: "relay-agent-information"
        case .clientArchitecture: "client-architecture"
        case .clientNetworkInterface: "client-network-interface"
        case .clientMachineID: "client-machine-id"
        case .defaultURL: "default-url"
        case .vendorIdentifyingClass: "vivco"
        case .vendorIdentifyingOptions: "vivso"
        case .ipxeEncapsulated: "ipxe-encapsulated"
        case .provisioningScriptURL: "cumulus-provision-url"
        case .end: "end"
        }
    }

    public static func < (lhs: DHCPOptionCode, rhs: DHCPOptionCode) -> Bool { lhs.rawValue < rhs.rawValue }
}

public enum DHCPMessageType: UInt8, Sendable, CaseIterable {
    case discover = 1, offer, request, decline, ack, nak, release, inform

    /// The case's name, as counters and logs spell it. Spelled out: `"\(type)"` finds the name
    /// by reflection, which cost several percent of a boot storm's CPU (counted twice a packet).
    public var name: String {
        switch self {
        case .discover: "discover"
        case .offer: "offer"
        case .request: "request"
        case .decline: "decline"
        case .ack: "ack"
        case .nak: "nak"
        case .release: "release"
        case .inform: "inform"
        }
    }
}

/// One option: a code and its data, after RFC 3396 reassembly (so data may exceed 255 bytes).
public struct DHCPOption: Sendable, Hashable {
    public var code: UInt8
    public var data: [UInt8]

    public init(_ code: UInt8, _ data: [UInt8]) {
        self.code = code
        self.data = data
    }
}

/// A message's options in order, each code at most once.
///
/// Pad, end and overload are wire details that never appear here: the codec handles them.
public struct DHCPOptions: Sendable, Hashable, Sequence {
    public private(set) var all: [DHCPOption] = []
    /// Codes that arrived in more than one instance and were joined (RFC 3396). A wire
    /// detail, not part of the value (`==` ignores it), kept because policy must know
    /// it for Option 82: a second instance is what a client that sends its own Option 82
    /// looks like behind a relay that appends rather than replaces.
    public private(set) var joinedCodes: Set<UInt8> = []

    public static func == (lhs: DHCPOptions, rhs: DHCPOptions) -> Bool { lhs.all == rhs.all }
    public func hash(into hasher: inout Hasher) { hasher.combine(all) }

    public init() {}

    public init(_ options: [DHCPOption]) {
        for option in options { set(option.code, option.data) }
    }

    public func makeIterator() -> IndexingIterator<[DHCPOption]> { all.makeIterator() }

    public subscript(code: UInt8) -> [UInt8]? { all.first { $0.code == code }?.data }
    public subscript(code: DHCPOptionCode) -> [UInt8]? { self[code.rawValue] }

    /// Sets an option, replacing any earlier value in its place; wire-only codes are ignored.
    public mutating func set(_ code: UInt8, _ data: [UInt8]) {
        guard !DHCPOptions.wireOnly(code) else { return }
        if let index = all.firstIndex(where: { $0.code == code }) { all[index].data = data }
        else { all.append(DHCPOption(code, data)) }
    }

    public mutating func set(_ code: DHCPOptionCode, _ data: [UInt8]) { set(code.rawValue, data) }
    public mutating func set(_ option: DHCPOption) { set(option.code, option.data) }

    public mutating func remove(_ code: UInt8) { all.removeAll { $0.code == code } }
    public mutating func remove(_ code: DHCPOptionCode) { remove(code.rawValue) }

    /// RFC 3396: a code that appears again continues the same option.
    mutating func join(_ code: UInt8, _ data: [UInt8]) {
        if let index = all.firstIndex(where: { $0.code == code }) {
            all[index].data += data
            joinedCodes.insert(code)
        } else { all.append(DHCPOption(code, data)) }
    }

    static func wireOnly(_ code: UInt8) -> Bool {
        code == DHCPOptionCode.pad.rawValue || code == DHCPOptionCode.end.rawValue || code == DHCPOptionCode.overload.rawValue
    }

    /// Each option as wire instances of at most 255 data bytes (RFC 3396 splitting), in order.
    private func forEachInstance(_ body: (UInt8, ArraySlice<UInt8>) -> Void) {
        for option in all {
            if option.data.isEmpty {
                body(option.code, [])
                continue
            }
            var start = 0
            while start < option.data.count {
                let end = Swift.min(start + 255, option.data.count)
                body(option.code, option.data[start..<end])
                start = end
            }
        }
    }

    /// Bytes `encode(into:)` writes.
    var encodedLength: Int {
        var length = 0
        forEachInstance { _, data in length += 2 + data.count }
        return length
    }

    /// Every instance appended to `out`: the common case, one buffer and no overload.
    func encode(into out: inout [UInt8]) {
        forEachInstance { code, data in
            out.append(code)
            out.append(UInt8(data.count))
            out.append(contentsOf: data)
        }
    }

    /// Every instance as its own byte array, for packing into overloaded fields.
    func encodedInstances() -> [[UInt8]] {
        var instances: [[UInt8]] = []
        forEachInstance { code, data in instances.append([code, UInt8(data.count)] + data) }
        return instances
    }
}

// MARK: Typed views of the options a server reads

extension DHCPOptions {
    public var messageType: DHCPMessageType? {
        guard let data = self[DHCPOptionCode.messageType], data.count == 1 else { return nil }
        return DHCPMessageType(rawValue: data[0])
    }

    public var requestedAddress: UInt32? { self[DHCPOptionCode.requestedAddress].flatMap(Self.u32) }
    public var serverIdentifier: UInt32? { self[DHCPOptionCode.serverIdentifier].flatMap(Self.u32) }
    public var parameterRequestList: [UInt8] { self[DHCPOptionCode.parameterRequestList] ?? [] }

    /// Option 57; values below 576 are treated as 576, as RFC 2132 §9.10 sets the floor.
    public var maximumMessageSize: Int? {
        guard let data = self[DHCPOptionCode.maximumMessageSize], data.count == 2 else { return nil }
        return Swift.max(576, Int(data[0]) << 8 | Int(data[1]))
    }

    /// Option 60 as text, e.g. `PXEClient:Arch:00007:UNDI:003000`.
    public var vendorClass: String? { self[DHCPOptionCode.vendorClass].map(Self.text) }
    public var clientIdentifier: [UInt8]? { self[DHCPOptionCode.clientIdentifier] }

    /// Option 77. RFC 3004 frames each class with a length byte; iPXE and many ROMs
    /// send one bare string instead. Both are read.
    public var userClasses: [String] {
        guard let data = self[DHCPOptionCode.userClass], !data.isEmpty else { return [] }
        guard let items = try? LengthFramed.parse(data, headerSize: 0), items.allSatisfy({ !$0.data.isEmpty }) else {
            return [Self.text(data)]
        }
        return items.map { Self.text($0.data) }
    }

    /// Option 93: the client's architecture types (RFC 4578; 0 BIOS, 7/9 x64 UEFI, 16 x64 UEFI HTTP).
    public var clientArchitectures: [UInt16] {
        guard let data = self[DHCPOptionCode.clientArchitecture], data.count >= 2, data.count % 2 == 0 else { return [] }
        return stride(from: 0, to: data.count, by: 2).map { UInt16(data[$0]) << 8 | UInt16(data[$0 + 1]) }
    }

    /// Option 94: UNDI interface type and version (type 1, major, minor).
    public var networkInterface: (type: UInt8, major: UInt8, minor: UInt8)? {
        guard let data = self[DHCPOptionCode.clientNetworkInterface], data.count == 3 else { return nil }
        return (data[0], data[1], data[2])
    }

    /// Option 97: the machine's UUID/GUID (type 0 and 16 bytes), as sent.
    public var clientMachineID: [UInt8]? {
        guard let data = self[DHCPOptionCode.clientMachineID], data.count == 17, data[0] == 0 else { return nil }
        return Array(data[1...])
    }

    /// Option 175: iPXE's encapsulated options; nil when absent or malformed. Its presence
    /// alone says "this is iPXE".
    public var ipxeEncapsulated: [DHCPOption]? {
        self[DHCPOptionCode.ipxeEncapsulated].flatMap { try? SubOptions.parse($0) }
    }

    public var relayAgentInformation: [UInt8]? { self[DHCPOptionCode.relayAgentInformation] }

    /// Option 125 parsed; nil when absent or malformed (recognition only reads it, so a
    /// malformed one counts as none; `VendorIdentifyingOptions(parsing:)` says what is wrong).
    public var vendorIdentifyingOptions: VendorIdentifyingOptions? {
        self[DHCPOptionCode.vendorIdentifyingOptions].flatMap { try? VendorIdentifyingOptions(parsing: $0) }
    }

    /// Option 124 parsed; nil when absent or malformed.
    public var vendorIdentifyingClasses: VendorIdentifyingClasses? {
        self[DHCPOptionCode.vendorIdentifyingClass].flatMap { try? VendorIdentifyingClasses(parsing: $0) }
    }

    static func u32(_ data: [UInt8]) -> UInt32? {
        data.count == 4 ? data.reduce(0) { $0 << 8 | UInt32($1) } : nil
    }

    /// Bytes as text for matching and logs; bytes that are not UTF-8 are replaced, never trapped on.
    static func text(_ data: [UInt8]) -> String {
        String(decoding: DHCPMessage.trimmed(data), as: UTF8.self)
    }
}
