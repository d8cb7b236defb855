import DHCPv4
import Zone

/// What kind of machine sent a request, as far as its DHCP options tell.
public enum DeviceKind: String, Sendable, Hashable, Codable, CaseIterable {
    /// ONIE, the switch installer environment: it wants a NOS installer URL.
    case onie
    case cumulus
    case sonic
    case arista
    case hpeILO = "hpe-ilo"
    case dellIDRAC = "dell-idrac"
    /// A PXE ROM or UEFI PXE stack.
    case pxe
    /// UEFI HTTP boot.
    case httpBoot = "http-boot"
    case ipxe
    /// Nothing it sent names it (an installed OS, a BMC or NOS we do not know).
    case unknown

    /// What sort of machine this kind is, to tell whether it belongs on a port.
    public var category: DeviceCategory {
        switch self {
        case .onie, .cumulus, .sonic, .arista: .switchOS
        case .hpeILO, .dellIDRAC: .bmc
        case .pxe, .httpBoot, .ipxe: .server
        case .unknown: .unknown
        }
    }
}

public enum DeviceCategory: String, Sendable, Hashable, Codable {
    /// A switch's own OS or installer, on a switch's management port (`device:`).
    case switchOS = "switch"
    /// A baseboard management controller, on a `lom` port.
    case bmc
    /// A server's boot firmware, on a host port.
    case server = "host"
    case unknown

    /// The category that belongs at an identity of this kind.
    public init(expectedAt kind: Identity.Kind) {
        switch kind {
        case .host: self = .server
        case .bmc: self = .bmc
        case .switch: self = .switchOS
        }
    }
}

/// The requester recognized from options 60, 77, 125, 61, 55 and the boot-client
/// options (93, 175): its kind, and its model (ONIE: platform) and serial where it sends them.
public struct RecognizedDevice: Sendable, Hashable, Codable {
    public var kind: DeviceKind
    public var model: String?
    public var serial: String?

    public init(kind: DeviceKind, model: String? = nil, serial: String? = nil) {
        self.kind = kind
        self.model = model
        self.serial = serial
    }

    /// ONIE's IANA enterprise number: its option 125 sub-options live under it.
    public static let onieEnterprise: UInt32 = 42623

    public init(facts: RequestFacts) {
        let vendor = facts.vendorClass ?? ""
        let serial = Self.textClientIdentifier(facts.clientID)
        // ONIE documents all three; any one of them is enough.
        let onieVendor = vendor.hasPrefix("onie_vendor:")
        let onieOptions = facts.vendorOptions?.vendors.contains { $0.enterprise == Self.onieEnterprise } ?? false
        if onieVendor || facts.userClasses.contains("onie_dhcp_user_class") || onieOptions {
            let platform = onieVendor ? String(vendor.dropFirst("onie_vendor:".count)) : Self.oniePlatform(facts.vendorOptions)
            self.init(kind: .onie, model: platform.flatMap(Self.nonEmpty), serial: serial)
            return
        }
        // SONiC's ZTP dhclient sends user class `SONiC-ZTP` and client-id
        // `SONiC##<product>##<serial>`; either one names it.
        let sonicClient = Self.sonicClientIdentifier(facts.clientID)
        if facts.userClasses.contains("SONiC-ZTP") || vendor.hasPrefix("SONiC") || sonicClient != nil {
            self.init(kind: .sonic, model: sonicClient?.product, serial: sonicClient?.serial ?? serial)
            return
        }
        // EOS: `Arista;<model>;<hardware revision>;<serial>`; ztpserver's DHCP example matches
        // only the first six bytes, `Arista`, so that alone names it too.
        if vendor.hasPrefix("Arista") {
            let fields = vendor.split(separator: ";", omittingEmptySubsequences: false).map(String.init)
            self.init(kind: .arista, model: fields.count > 1 ? Self.nonEmpty(fields[1]) : nil,
                      serial: fields.count > 3 ? Self.nonEmpty(fields[3]) : serial)
            return
        }
        // Cumulus Linux's dhclient asks for option 239 (`cumulus-provision-url`); some
        // builds also name themselves in option 60.
        if vendor.lowercased().hasPrefix("cumulus")
            || facts.parameterRequestList.contains(DHCPOptionCode.provisioningScriptURL.rawValue) {
            self.init(kind: .cumulus, serial: serial)
            return
        }
        // HPE iLO (2 through 6) sends `CPQRIB3`; Dell iDRAC sends `iDRAC`.
        if vendor.hasPrefix("CPQRIB3") {
            self.init(kind: .hpeILO, serial: serial)
            return
        }
        if vendor.hasPrefix("iDRAC") {
            self.init(kind: .dellIDRAC, serial: serial)
            return
        }
        switch BootClient(facts: facts) {
        case .ipxe: self.init(kind: .ipxe, serial: serial)
        case .pxe(let arch): self.init(kind: .pxe, model: arch.rawValue, serial: serial)
        case .http(let arch): self.init(kind: .httpBoot, model: arch.rawValue, serial: serial)
        case nil: self.init(kind: .unknown, serial: serial)
        }
    }

    /// Whether this kind of machine belongs at an identity of `kind`. A requester that
    /// names no kind fits anywhere: only a positive mismatch is a finding.
    public func fits(_ kind: Identity.Kind) -> Bool {
        self.kind.category == .unknown || self.kind.category == DeviceCategory(expectedAt: kind)
    }

    /// `<arch>-<machine>-r<revision>` from ONIE's option 125 sub-options 4, 3 and 5.
    static func oniePlatform(_ options: VendorIdentifyingOptions?) -> String? {
        guard let options, let machine = options.subOption(3, enterprise: onieEnterprise) else { return nil }
        let text = { (bytes: [UInt8]) in String(decoding: bytes, as: UTF8.self) }
        var platform = text(machine)
        if let arch = options.subOption(4, enterprise: onieEnterprise) { platform = text(arch) + "-" + platform }
        if let revision = options.subOption(5, enterprise: onieEnterprise) { platform += "-r" + text(revision) }
        return platform
    }

    /// Option 61 of type 0 (RFC 2132: not a hardware address) holding printable text is a
    /// serial number, as switch ZTP clients send it; anything else is not guessed at.
    static func textClientIdentifier(_ clientID: [UInt8]?) -> String? {
        guard let clientID, clientID.count > 1, clientID[0] == 0,
              clientID.dropFirst().allSatisfy({ $0 > 0x20 && $0 < 0x7f }) else { return nil }
        return String(decoding: clientID.dropFirst(), as: UTF8.self)
    }

    /// SONiC's client-id: its ZTP writes `send dhcp-client-identifier "SONiC##<product>##<serial>"`
    /// (product and serial from the system EEPROM, TLVs 0x21 and 0x23) into dhclient.conf, and
    /// dhclient sends a quoted string as it is, with no type byte. A type-0 byte in front is
    /// accepted too. Both fields must be there; what is kept of them is decided by the caller
    /// (`ClientText.safe`), like every other client string.
    static func sonicClientIdentifier(_ clientID: [UInt8]?) -> (product: String?, serial: String)? {
        guard var bytes = clientID else { return nil }
        if bytes.first == 0 { bytes.removeFirst() }
        let prefix = Array("SONiC##".utf8)
        guard bytes.starts(with: prefix) else { return nil }
        let rest = String(decoding: bytes.dropFirst(prefix.count), as: UTF8.self)
        // The product name comes first and never holds `##`; the serial is the rest after it.
        guard let separator = rest.range(of: "##") else { return nil }
        let product = String(rest[..<separator.lowerBound]), serial = String(rest[separator.upperBound...])
        guard !serial.isEmpty else { return nil }
        return (nonEmpty(product), serial)
    }

    private static func nonEmpty(_ text: String) -> String? { text.isEmpty ? nil : text }
}
