/// Boot profiles: the iPXE script and the files a host of a role is served.
extension ZoneSpec {
    public struct Profile: Sendable {
        public var name: Located<String>
        /// Template path, relative to the zone file's folder.
        public var ipxe: Located<String>?
        /// Served file name → template path.
        public var files: [(name: Located<String>, template: Located<String>)]
        /// Which iPXE build an x64 UEFI machine loads; nil means the default, `ipxe`.
        public var efiLoader: Located<EFILoader>?
        /// Addition: credentials minted per host for its first boot, in file order.
        public var bootstrapSecrets: [BootstrapSecretSpec] = []
    }
}

/// The iPXE builds for x64 UEFI: `ipxe.efi` drives the NIC itself, `snponly.efi` uses the
/// firmware's own network stack (SNP), which some NICs need.
public enum EFILoader: String, Sendable, Codable, CaseIterable {
    case ipxe, snponly
}
