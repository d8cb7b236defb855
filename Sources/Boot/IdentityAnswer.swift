import Addressing
import DHCPv4
import Zone

/// A DHCP option as policy decides it: typed, not yet wire bytes. The DHCPv4 codec
/// encodes these; `zonectl render` prints them.
public struct AnswerOption: Sendable, Hashable, Codable {
    public enum Value: Sendable, Hashable, Codable, CustomStringConvertible {
        case addresses([IPv4Address])
        case text(String)
        case seconds(UInt32)
        /// One text sub-option of an RFC 3925 option (125): ONIE's installer URL.
        case vendorText(enterprise: UInt32, subOption: UInt8, text: String)

        public var description: String {
            switch self {
            case .addresses(let list): list.map(\.description).joined(separator: ", ")
            case .text(let text): text
            case .seconds(let s): "\(s) (\(Duration(seconds: Int(s))))"
            case .vendorText(let enterprise, let code, let text): "enterprise \(enterprise), sub-option \(code): \(text)"
            }
        }

        private struct VendorTextJSON: Codable {
            var enterprise: UInt32
            var subOption: UInt8
            var text: String

            enum CodingKeys: String, CodingKey { case enterprise, subOption = "sub_option", text }
        }

        // JSON carries the plain value: a list of addresses, a string, or a number of seconds.
        public init(from decoder: any Decoder) throws {
            if let vendor = try? VendorTextJSON(from: decoder) {
                self = .vendorText(enterprise: vendor.enterprise, subOption: vendor.subOption, text: vendor.text)
                return
            }
            let single = try decoder.singleValueContainer()
            if let seconds = try? single.decode(UInt32.self) { self = .seconds(seconds) }
            else if let list = try? single.decode([IPv4Address].self) { self = .addresses(list) }
            else { self = .text(try single.decode(String.self)) }
        }

        public func encode(to encoder: any Encoder) throws {
            var single = encoder.singleValueContainer()
            switch self {
            case .addresses(let list): try single.encode(list)
            case .text(let text): try single.encode(text)
            case .seconds(let s): try single.encode(s)
            case .vendorText(let enterprise, let code, let text):
                try single.encode(VendorTextJSON(enterprise: enterprise, subOption: code, text: text))
            }
        }
    }

    /// Which option it is; its wire code and printed name come from the codec's one table.
    public var optionCode: DHCPOptionCode
    public var value: Value

    public var code: UInt8 { optionCode.rawValue }
    public var name: String { optionCode.name }

    public init(_ optionCode: DHCPOptionCode, _ value: Value) {
        self.optionCode = optionCode
        self.value = value
    }

    /// The option as it goes on the wire.
    public var option: DHCPOption { DHCPOption(code, value.wireData) }

    // JSON (`zonectl render --json`) carries the code, its name and the value.
    private enum CodingKeys: String, CodingKey { case code, name, value }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        let code = try container.decode(UInt8.self, forKey: .code)
        guard let optionCode = DHCPOptionCode(rawValue: code) else {
            throw DecodingError.dataCorruptedError(forKey: .code, in: container, debugDescription: "option \(code) is not one this server writes")
        }
        self.init(optionCode, try container.decode(Value.self, forKey: .value))
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(code, forKey: .code)
        try container.encode(name, forKey: .name)
        try container.encode(value, forKey: .value)
    }
}

extension AnswerOption.Value {
    /// The value's wire bytes: the one place option values are encoded. Addresses four
    /// bytes each, text as UTF-8, seconds as a 32-bit big-endian count, vendor text as
    /// one RFC 3925 enterprise block holding one sub-option (empty where that would not
    /// fit its length bytes; `BootTarget.options` builds none such).
    public var wireData: [UInt8] {
        switch self {
        case .addresses(let list): list.flatMap(\.bytes)
        case .text(let text): Array(text.utf8)
        case .seconds(let s): [UInt8(s >> 24), UInt8(s >> 16 & 0xff), UInt8(s >> 8 & 0xff), UInt8(s & 0xff)]
        case .vendorText(let enterprise, let code, let text):
            (try? VendorIdentifyingOptions([.init(enterprise: enterprise, subOptions: [DHCPOption(code, Array(text.utf8))])])
                .serialize()) ?? []
        }
    }
}

/// What a known location is answered with, before any client detail (arch, iPXE)
/// refines the boot part.
public struct IdentityAnswer: Sendable, Codable {
    public var identity: Identity
    public var leaseSeconds: UInt32
    /// siaddr: where the client fetches its boot files.
    public var nextServer: IPv4Address?
    public var options: [AnswerOption]
    /// The host's own iPXE script, when its role boots a profile with one.
    public var bootScriptURL: String?
    /// The x64 UEFI loader its profile asks for.
    public var efiLoader: EFILoader = .ipxe
    /// The ZTP dialect of a switch's role (`ztp:`), and what that switch is pointed at.
    public var ztp: ZTPPlatform?
    /// The switch's rendered ZTP file (`ztp.sh`, `ztp.json` or `bootstrap`), by URL.
    public var ztpFileURL: String?
    /// The NOS installer ONIE is given (the role's `installer`).
    public var installerURL: String?

    /// Renewal (T1) and rebinding (T2) at the RFC 2131 §4.4.5 defaults: 1/2 and 7/8 of the lease.
    public static func renewal(_ lease: UInt32) -> UInt32 { lease / 2 }
    public static func rebinding(_ lease: UInt32) -> UInt32 { UInt32(UInt64(lease) * 7 / 8) }

    public init(identity: Identity, revision: ZoneRevision) {
        self.identity = identity
        let defaults = revision.spec.defaults
        let lease = UInt32(clamping: defaults.lease.value.seconds)
        leaseSeconds = lease
        nextServer = defaults.bootServer?.value
        options = Self.addressOptions(netmask: identity.netmask, gateway: identity.gateway, hostName: identity.name,
                                     leaseSeconds: lease, revision: revision)
        let profile = identity.profile.flatMap(revision.profile(named:))
        if profile?.ipxe != nil, let base = HostFiles.baseURL(revision) {
            bootScriptURL = "\(base)/hosts/\(identity.name)/boot.ipxe"
        }
        efiLoader = profile?.efiLoader?.value ?? .ipxe
        if identity.kind == .switch, let role = revision.role(named: identity.role) {
            let base = HostFiles.baseURL(revision)
            ztp = role.ztp?.value
            if let file = ztp.flatMap(SwitchZTP.fileName(for:)), let base {
                ztpFileURL = "\(base)/hosts/\(identity.name)/\(file)"
            }
            installerURL = role.installer?.value.url(base: base)
        }
    }

    /// The options of an address lease, in code order: its network's mask and router, the
    /// host's name where it has one, the zone's DNS servers, domain and NTP servers, and the
    /// lease times. For a known host and a discovery client alike: DNS, domain and NTP are
    /// the zone's `defaults` and `domain`, the same for every machine on the network, not
    /// part of an identity; only the name is, and a discovery client (`hostName` nil) has none.
    public static func addressOptions(netmask: IPv4Address, gateway: IPv4Address?, hostName: String?,
                                      leaseSeconds: UInt32, revision: ZoneRevision) -> [AnswerOption] {
        let defaults = revision.spec.defaults
        var options: [AnswerOption] = [.init(.subnetMask, .addresses([netmask]))]
        if let gateway { options.append(.init(.router, .addresses([gateway]))) }
        if !defaults.dns.isEmpty { options.append(.init(.domainNameServers, .addresses(defaults.dns.map(\.value)))) }
        if let hostName { options.append(.init(.hostName, .text(hostName))) }
        if !revision.spec.domain.value.isEmpty { options.append(.init(.domainName, .text(revision.spec.domain.value))) }
        if !defaults.ntp.isEmpty { options.append(.init(.ntpServers, .addresses(defaults.ntp.map(\.value)))) }
        options.append(.init(.leaseTime, .seconds(leaseSeconds)))
        options.append(.init(.renewalTime, .seconds(renewal(leaseSeconds))))
        options.append(.init(.rebindingTime, .seconds(rebinding(leaseSeconds))))
        return options
    }
}
