import Addressing
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

    public var code: UInt8
    public var name: String
    public var value: Value

    public init(code: UInt8, name: String, value: Value) {
        self.code = code
        self.name = name
        self.value = value
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
        var options: [AnswerOption] = [.init(code: 1, name: "subnet-mask", value: .addresses([identity.netmask]))]
        if let gateway = identity.gateway { options.append(.init(code: 3, name: "router", value: .addresses([gateway]))) }
        if !defaults.dns.isEmpty {
            options.append(.init(code: 6, name: "domain-name-servers", value: .addresses(defaults.dns.map(\.value))))
        }
        options.append(.init(code: 12, name: "host-name", value: .text(identity.name)))
        if !revision.spec.domain.value.isEmpty {
            options.append(.init(code: 15, name: "domain-name", value: .text(revision.spec.domain.value)))
        }
        if !defaults.ntp.isEmpty {
            options.append(.init(code: 42, name: "ntp-servers", value: .addresses(defaults.ntp.map(\.value))))
        }
        options.append(.init(code: 51, name: "lease-time", value: .seconds(lease)))
        options.append(.init(code: 58, name: "renewal-time", value: .seconds(Self.renewal(lease))))
        options.append(.init(code: 59, name: "rebinding-time", value: .seconds(Self.rebinding(lease))))
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
        self.options = options
    }
}
