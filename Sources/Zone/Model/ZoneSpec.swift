import Addressing

/// A value from the zone file together with where it was written, so that later
/// checks (collisions, references) can point at both sides.
public struct Located<Value: Sendable>: Sendable {
    public var value: Value
    public var at: SourcePosition
    /// Key path in the document, e.g. `pods[0].networks.servers.subnet`.
    public var path: String

    public init(_ value: Value, at: SourcePosition, path: String) {
        self.value = value
        self.at = at
        self.path = path
    }
}

extension Located: Equatable where Value: Equatable {}
extension Located: Hashable where Value: Hashable {}

/// The zone file as written (version 1, `../shared/zone-format.md`), decoded and
/// type-checked but not yet expanded. Positions are kept for every value that a
/// later check may need to point at.
public struct ZoneSpec: Sendable {
    public var apiVersion: String
    public var zone: Located<String>
    public var domain: Located<String>
    public var naming: Naming
    public var defaults: Defaults
    public var pods: [Pod]
    public var roles: [Role]
    public var profiles: [Profile]
    public var hooks: [Hook]

    public struct Naming: Sendable {
        public var host: Located<NameTemplate>
        public var lom: Located<NameTemplate>
        public var `switch`: Located<NameTemplate>
    }

    public struct Defaults: Sendable {
        public var lease: Located<Duration>
        public var dns: [Located<IPv4Address>]
        public var ntp: [Located<IPv4Address>]
        public var bootServer: Located<IPv4Address>?
    }

    public struct Pod: Sendable {
        public var name: Located<String>
        public var relays: [Located<IPv4Address>]
        /// The addresses the pod's relays send from (their uplink or loopback). A relayed
        /// request is believed only from one of these; empty means the `relays` themselves.
        public var relaySources: [Located<IPv4Address>] = []
        public var networks: [Network]
        public var switches: [Switch]
        public var discovery: Discovery?
    }

    public struct Network: Sendable {
        public var name: Located<String>
        public var subnet: Located<IPv4Network>
        public var gateway: Located<IPv4Address>?
    }

    public struct Switch: Sendable {
        public var name: Located<String>
        public var role: Located<String>?
        public var remoteID: Located<String>?
        public var ports: [PortEntry]
        /// Port entries too malformed to decode (each already reported) and left out.
        public var droppedEntries: Int = 0
    }

    /// One line of a switch's `ports:` list: a run of ports and what is plugged in.
    public struct PortEntry: Sendable {
        public var at: SourcePosition
        public var path: String
        public var ports: Located<PortRange>
        public var rack: Located<Int>?
        public var units: Located<ClosedRange<Int>>?
        public var role: Located<String>?
        /// The switch whose management port is plugged in here.
        public var device: Located<String>?
        public var network: Located<String>
        public var address: Located<IPv4Address>
    }

    public struct Discovery: Sendable {
        public var network: Located<String>
        public var range: Located<IPv4Range>
        public var lease: Located<Duration>?
    }

    public struct Role: Sendable {
        public var name: Located<String>
        public var boot: Located<String>?
        public var chef: Chef?
        public var ansible: Ansible?
        public var hooks: [Located<String>]
        public var ztp: Located<ZTPPlatform>?
        /// Addition: the NOS installer ONIE gets on this role's switches (option 114 and 125).
        public var installer: Located<InstallerLocation>? = nil
    }

    public struct Chef: Sendable {
        public var runList: [Located<String>]
        public var environment: Located<String>?
        public var attributes: ZoneValue
        /// The top-level attribute names as written, for checks that point at one.
        public var attributeKeys: [Located<String>] = []
    }

    public struct Ansible: Sendable {
        public var groups: [Located<String>]
        /// Kept in file order; names are checked to be valid Ansible variable names.
        public var vars: [(name: Located<String>, value: ZoneValue)]
    }

    public struct Profile: Sendable {
        public var name: Located<String>
        /// Template path, relative to the zone file's folder.
        public var ipxe: Located<String>?
        /// Served file name → template path.
        public var files: [(name: Located<String>, template: Located<String>)]
        /// Which iPXE build an x64 UEFI machine loads; nil means the default, `ipxe`.
        public var efiLoader: Located<EFILoader>?
    }

    /// A hook does exactly one thing (checked on expansion): runs an executable next to the
    /// zone file, POSTs the event to a URL, or runs a hook built into zonebootd.
    public struct Hook: Sendable {
        public var name: Located<String>
        public var on: [Located<HookEvent>]
        /// Executable, relative to the zone file's folder; gets the event as JSON on stdin.
        public var run: Located<String>?
        /// Webhook: the event is POSTed as JSON here.
        public var url: Located<String>?
        public var builtin: Located<BuiltinHook>?
        /// How long one run may take before it is killed (or the request abandoned) and counted as failed.
        public var timeout: Located<Duration>?
        /// redfish-register: a JSON file {"username", "password"}, mode 0600, absolute or relative to the zone file.
        public var credentials: Located<String>?
        /// redfish-register and webhooks: whether a self-signed certificate is accepted.
        public var tls: Located<HookTLS>?

        public init(name: Located<String>, on: [Located<HookEvent>], run: Located<String>? = nil, url: Located<String>? = nil,
                    builtin: Located<BuiltinHook>? = nil, timeout: Located<Duration>? = nil,
                    credentials: Located<String>? = nil, tls: Located<HookTLS>? = nil) {
            self.name = name
            self.on = on
            self.run = run
            self.url = url
            self.builtin = builtin
            self.timeout = timeout
            self.credentials = credentials
            self.tls = tls
        }

        /// What the hook does, as written; nil where the zone names none or several (an error).
        public var action: HookAction? {
            switch (run, url, builtin) {
            case (let run?, nil, nil): .run(run.value)
            case (nil, let url?, nil): .post(url.value)
            case (nil, nil, let builtin?): .builtin(builtin.value)
            default: nil
            }
        }

        /// The timeout a run gets where the zone sets none.
        public static let defaultTimeout = Duration(seconds: 30)
    }
}

/// What a hook does with an event.
public enum HookAction: Sendable, Hashable {
    case run(String)
    case post(String)
    case builtin(BuiltinHook)
}

/// Hooks built into zonebootd.
public enum BuiltinHook: String, Sendable, Codable, CaseIterable {
    /// Sets a BMC's hostname over Redfish and records its system's serial, model and firmware.
    case redfishRegister = "redfish-register"
}

/// Whether a hook's HTTPS peer must present a certificate the system trusts.
public enum HookTLS: String, Sendable, Codable, CaseIterable {
    case verify
    /// BMCs ship with self-signed certificates; accepting them still encrypts.
    case acceptSelfSigned = "accept-self-signed"
}

/// The iPXE builds for x64 UEFI: `ipxe.efi` drives the NIC itself, `snponly.efi` uses the
/// firmware's own network stack (SNP), which some NICs need.
public enum EFILoader: String, Sendable, Codable, CaseIterable {
    case ipxe, snponly
}

/// The zero-touch provisioning dialect a switch role speaks.
public enum ZTPPlatform: String, Sendable, Codable, CaseIterable {
    case cumulus, onie, sonic, arista
}

/// Where ONIE fetches a NOS installer: a URL as written, or a path under the boot
/// server's files directory (served at `/files/<path>`).
public enum InstallerLocation: Sendable, Hashable, CustomStringConvertible {
    case url(String)
    case files(String)

    public init?(_ text: String) {
        guard !text.isEmpty, text.utf8.count <= 1024, !text.contains(where: { $0.isWhitespace }) else { return nil }
        let schemes = ["http://", "https://", "ftp://", "tftp://"]
        if schemes.contains(where: { text.hasPrefix($0) }) {
            guard schemes.allSatisfy({ text != $0 }) else { return nil }
            self = .url(text)
            return
        }
        guard !text.contains("://"), !text.hasPrefix("/"), !text.split(separator: "/").contains("..") else { return nil }
        self = .files(text)
    }

    /// The URL a switch is given; a files path needs the boot server's base URL.
    public func url(base: String?) -> String? {
        switch self {
        case .url(let url): url
        case .files(let path): base.map { "\($0)/files/\(path)" }
        }
    }

    public var description: String {
        switch self {
        case .url(let url): url
        case .files(let path): path
        }
    }
}

/// Events a hook can subscribe to.
public enum HookEvent: String, Sendable, Codable, CaseIterable {
    case leaseOffered = "lease.offered"
    case leaseAcked = "lease.acked"
    case leaseReleased = "lease.released"
    case leaseExpired = "lease.expired"
    case hostDiscovered = "host.discovered"
    case hostReplaced = "host.replaced"
    /// Addition: a machine whose kind does not fit its port's role (an iLO on a host port).
    case hostMiscabled = "host.miscabled"
    case bmcDiscovered = "bmc.discovered"
    case zoneApplied = "zone.applied"
}

/// A length of time as the zone writes it: `90s`, `10m`, `12h`, `7d`.
public struct Duration: Sendable, Hashable, Codable, CustomStringConvertible {
    public var seconds: Int

    public init(seconds: Int) { self.seconds = seconds }

    public init?(_ text: some StringProtocol) {
        guard let unit = text.last, let count = Int(text.dropLast()), count > 0,
              text.dropLast().allSatisfy({ $0.isASCII && $0.isNumber }) else { return nil }
        let scale: Int
        switch unit {
        case "s": scale = 1
        case "m": scale = 60
        case "h": scale = 3600
        case "d": scale = 86400
        default: return nil
        }
        let (product, overflow) = count.multipliedReportingOverflow(by: scale)
        // DHCP carries lease times in 32 bits.
        guard !overflow, product < Int(UInt32.max) else { return nil }
        seconds = product
    }

    /// `12h`, `90s`; a length no single unit writes exactly reads `10h30m`.
    public var description: String {
        var rest = seconds, out = ""
        for (scale, unit) in [(86400, "d"), (3600, "h"), (60, "m"), (1, "s")] where rest >= scale {
            out += "\(rest / scale)\(unit)"
            rest %= scale
        }
        return out.isEmpty ? "0s" : out
    }
}

/// A run of switch port names, `swp1-swp40` or a single `swp48`: a common prefix and
/// an inclusive number range. `Ethernet0-Ethernet47` and `eth1/1-eth1/48` work the same.
public struct PortRange: Sendable, Hashable, CustomStringConvertible {
    public var prefix: String
    public var numbers: ClosedRange<Int>?
    /// Zero padding of the numbers as written (`swp01-swp40` keeps two digits).
    public var width: Int

    public init(prefix: String, numbers: ClosedRange<Int>?, width: Int = 0) {
        self.prefix = prefix
        self.numbers = numbers
        self.width = width
    }

    public var names: [String] {
        guard let numbers else { return [prefix] }
        return numbers.map { prefix + String(paddedTo: width, $0) }
    }

    public var count: Int { numbers?.count ?? 1 }

    public var description: String {
        guard let numbers else { return prefix }
        if numbers.count == 1 { return names[0] }
        return "\(names.first!)-\(names.last!)"
    }
}

extension String {
    /// `n` in decimal, left-padded with zeros to `width` digits.
    init(paddedTo width: Int, _ n: Int) {
        let digits = String(n)
        self = digits.count >= width ? digits : String(repeating: "0", count: width - digits.count) + digits
    }
}

/// A YAML value that is handed through to Chef or Ansible as JSON, keeping its type.
public indirect enum ZoneValue: Sendable, Hashable, Codable {
    case null
    case bool(Bool)
    case int(Int)
    case double(Double)
    case string(String)
    case array([ZoneValue])
    /// Keys in file order.
    case object([Member])

    public struct Member: Sendable, Hashable, Codable {
        public var key: String
        public var value: ZoneValue
        public init(_ key: String, _ value: ZoneValue) {
            self.key = key
            self.value = value
        }
    }

    public init(from decoder: any Decoder) throws {
        if let keyed = try? decoder.container(keyedBy: AnyKey.self) {
            self = .object(try keyed.allKeys.map { .init($0.stringValue, try keyed.decode(ZoneValue.self, forKey: $0)) })
            return
        }
        if var list = try? decoder.unkeyedContainer() {
            var items: [ZoneValue] = []
            while !list.isAtEnd { items.append(try list.decode(ZoneValue.self)) }
            self = .array(items)
            return
        }
        let single = try decoder.singleValueContainer()
        if single.decodeNil() { self = .null }
        else if let b = try? single.decode(Bool.self) { self = .bool(b) }
        else if let i = try? single.decode(Int.self) { self = .int(i) }
        else if let d = try? single.decode(Double.self) { self = .double(d) }
        else { self = .string(try single.decode(String.self)) }
    }

    public func encode(to encoder: any Encoder) throws {
        switch self {
        case .null:
            var c = encoder.singleValueContainer()
            try c.encodeNil()
        case .bool(let b):
            var c = encoder.singleValueContainer()
            try c.encode(b)
        case .int(let i):
            var c = encoder.singleValueContainer()
            try c.encode(i)
        case .double(let d):
            var c = encoder.singleValueContainer()
            try c.encode(d)
        case .string(let s):
            var c = encoder.singleValueContainer()
            try c.encode(s)
        case .array(let items):
            var c = encoder.unkeyedContainer()
            for item in items { try c.encode(item) }
        case .object(let members):
            var c = encoder.container(keyedBy: AnyKey.self)
            for member in members { try c.encode(member.value, forKey: AnyKey(member.key)) }
        }
    }

    /// The value as a plain Foundation-free tree for template contexts.
    public var plain: Any {
        switch self {
        case .null: return Optional<String>.none as Any
        case .bool(let b): return b
        case .int(let i): return i
        case .double(let d): return d
        case .string(let s): return s
        case .array(let items): return items.map(\.plain)
        case .object(let members):
            var dict: [String: Any] = [:]
            for member in members { dict[member.key] = member.value.plain }
            return dict
        }
    }

    struct AnyKey: CodingKey {
        var stringValue: String
        var intValue: Int? { nil }
        init(_ string: String) { stringValue = string }
        init?(stringValue: String) { self.stringValue = stringValue }
        init?(intValue: Int) { nil }
    }
}
