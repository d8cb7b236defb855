/// What ONIE says about itself in the headers of every HTTP request it makes (ONIE design
/// spec, "HTTP Requests and HTTP Headers"): the server logs it, so an installer fetch is
/// tied to a serial number, MAC and platform.
public struct ONIERequest: Sendable, Hashable, Codable {
    public var serialNumber: String?
    public var ethernetAddress: String?
    /// The 32-bit IANA enterprise number of the hardware vendor, in decimal.
    public var vendorID: String?
    /// `<vendor>_<machine>`.
    public var machine: String?
    public var machineRevision: String?
    public var arch: String?
    public var securityKey: String?
    /// `os-install` or `onie-update`.
    public var operation: String?
    public var version: String?

    /// From request headers (names case-insensitive); nil when none is an ONIE header.
    public init?(headers: [(name: String, value: String)]) {
        var byName: [String: String] = [:]
        for header in headers where header.name.uppercased().hasPrefix("ONIE-") {
            byName[header.name.uppercased()] = header.value
        }
        guard !byName.isEmpty else { return nil }
        serialNumber = byName["ONIE-SERIAL-NUMBER"]
        ethernetAddress = byName["ONIE-ETH-ADDR"]
        vendorID = byName["ONIE-VENDOR-ID"]
        machine = byName["ONIE-MACHINE"]
        machineRevision = byName["ONIE-MACHINE-REV"]
        arch = byName["ONIE-ARCH"]
        securityKey = byName["ONIE-SECURITY-KEY"]
        operation = byName["ONIE-OPERATION"]
        version = byName["ONIE-VERSION"]
    }

    /// One line for the log; the security key is left out.
    public var summary: String {
        let fields: [(String, String?)] = [
            ("serial", serialNumber), ("mac", ethernetAddress), ("vendor-id", vendorID), ("machine", machine),
            ("machine-rev", machineRevision), ("arch", arch), ("operation", operation), ("version", version),
        ]
        return fields.compactMap { key, value in value.map { "\(key)=\($0)" } }.joined(separator: " ")
    }
}
