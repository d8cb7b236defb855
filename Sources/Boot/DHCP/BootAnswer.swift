import Addressing
import Zone

/// The CPU and firmware a network boot loader must be built for (RFC 4578 option 93,
/// IANA "Processor Architecture Types").
public enum BootArchitecture: String, Sendable, Hashable, CaseIterable, Codable {
    case bios
    case efiIA32 = "efi-ia32"
    case efiX64 = "efi-x64"
    case efiARM64 = "efi-arm64"

    /// Option 93 values: 0 BIOS; 6 EFI IA32; 7 EFI BC and 9 EFI x86-64 (both x64 in
    /// practice); 11 ARM64 EFI; the HTTP variants 15, 16 and 19.
    public init?(optionValue: UInt16) {
        switch optionValue {
        case 0: self = .bios
        case 6, 15: self = .efiIA32
        case 7, 9, 16: self = .efiX64
        case 11, 19: self = .efiARM64
        default: return nil
        }
    }
}

/// What kind of network boot client sent a request.
public enum BootClient: Sendable, Hashable {
    /// iPXE itself: it fetches its script by URL.
    case ipxe
    /// A PXE ROM or UEFI's PXE stack: a loader over TFTP.
    case pxe(BootArchitecture)
    /// UEFI HTTP boot (vendor class `HTTPClient`): a loader by URL.
    case http(BootArchitecture)

    /// From options 175/77 (iPXE), 60 (`PXEClient…`, `HTTPClient…`) and 93; nil for a
    /// client that is not network booting (an installed OS, a BMC, a switch).
    public init?(facts: RequestFacts) {
        if facts.isIPXE {
            self = .ipxe
            return
        }
        let vendor = facts.vendorClass ?? ""
        let http = vendor.hasPrefix("HTTPClient")
        guard http || vendor.hasPrefix("PXEClient") || !facts.architectures.isEmpty else { return nil }
        // Option 93 first; a ROM that omits it still names its arch in option 60 ("…:Arch:00007:…").
        let code = facts.architectures.first ?? Self.vendorClassArchitecture(vendor) ?? 0
        guard let architecture = BootArchitecture(optionValue: code) else { return nil }
        self = http ? .http(architecture) : .pxe(architecture)
    }

    static func vendorClassArchitecture(_ vendor: String) -> UInt16? {
        let fields = vendor.split(separator: ":")
        guard let index = fields.firstIndex(of: "Arch"), index + 1 < fields.count else { return nil }
        return UInt16(fields[index + 1])
    }
}

/// Where a booting client fetches what it runs next.
public enum BootTarget: Sendable, Hashable {
    /// A loader file over TFTP from the boot server (siaddr, options 66 and 67).
    case tftp(server: IPv4Address, file: String)
    /// A URL (option 67). `vendorClass` is echoed in option 60: UEFI HTTP boot ignores an
    /// answer that does not say `HTTPClient`.
    case url(String, vendorClass: String?)
    /// A script URL in option 239, which Cumulus Linux ZTP runs (`cumulus-provision-url`).
    case provisioningScript(String)
    /// A NOS installer URL for ONIE: option 114 (`default-url`) and option 125, enterprise
    /// 42623 sub-option 1, which ONIE prefers.
    case installer(String)

    /// The options that carry this target, in the order they are written.
    public var options: [AnswerOption] {
        switch self {
        case .tftp(let server, let file):
            return [.init(.tftpServerName, .text(server.description)), .init(.bootFileName, .text(file))]
        case .url(let url, let vendorClass):
            return (vendorClass.map { [AnswerOption(.vendorClass, .text($0))] } ?? []) + [.init(.bootFileName, .text(url))]
        case .provisioningScript(let url):
            return [.init(.provisioningScriptURL, .text(url))]
        case .installer(let url):
            var options: [AnswerOption] = [.init(.defaultURL, .text(url))]
            // One length byte for the sub-option and one for the enterprise's data: a longer
            // URL goes in option 114 alone, which ONIE reads as well.
            if url.utf8.count <= 253 {
                options.append(.init(.vendorIdentifyingOptions,
                                     .vendorText(enterprise: RecognizedDevice.onieEnterprise, subOption: 1, text: url)))
            }
            return options
        }
    }

    /// What goes in the BOOTP `file` field as well, for ROMs that read only that.
    public var bootFile: String? {
        switch self {
        case .tftp(_, let file): file
        case .url(let url, _): url
        case .provisioningScript, .installer: nil
        }
    }
}

/// The boot loaders this server has (from the firmware manifest), by the file names
/// they are served under over TFTP and at `/loaders/<file>` over HTTP.
public struct BootLoaders: Sendable, Hashable {
    public var available: Set<String>

    public init(available: Set<String>) { self.available = available }

    /// Every loader name ZoneBoot knows how to hand out.
    public static let all = BootLoaders(available: Set(BootArchitecture.allCases.flatMap { arch in
        EFILoader.allCases.compactMap { fileName(for: arch, efiLoader: $0) }
    }))

    /// The iPXE build for an architecture: Debian's `ipxe` package ships the BIOS and
    /// x64 ones; ia32 and arm64 builds are used where the operator adds them.
    public static func fileName(for architecture: BootArchitecture, efiLoader: EFILoader) -> String? {
        switch architecture {
        case .bios: "undionly.kpxe"
        case .efiX64: efiLoader == .snponly ? "snponly.efi" : "ipxe.efi"
        case .efiIA32: "ipxe-ia32.efi"
        case .efiARM64: "ipxe-arm64.efi"
        }
    }
}

extension IdentityAnswer {
    /// Where this host's firmware goes next: iPXE gets the host's script; a PXE ROM gets
    /// the iPXE loader for its arch over TFTP, and UEFI HTTP boot the same loader by URL,
    /// which then asks again as iPXE (so there is no chainload loop). Nil when the host
    /// boots nothing, or no loader for its arch is installed.
    public func bootTarget(for client: BootClient, loaders: BootLoaders) -> BootTarget? {
        guard let bootServer = nextServer, let script = bootScriptURL else { return nil }
        switch client {
        case .ipxe:
            return .url(script, vendorClass: nil)
        case .pxe(let arch):
            guard let file = BootLoaders.fileName(for: arch, efiLoader: efiLoader), loaders.available.contains(file)
            else { return nil }
            return .tftp(server: bootServer, file: file)
        case .http(let arch):
            guard let file = BootLoaders.fileName(for: arch, efiLoader: efiLoader), loaders.available.contains(file)
            else { return nil }
            return .url("http://\(bootServer)/loaders/\(file)", vendorClass: "HTTPClient")
        }
    }
}
