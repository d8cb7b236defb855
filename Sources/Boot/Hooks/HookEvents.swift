import Addressing
import Zone

/// What a BMC's Redfish service said about itself and the system it manages.
public struct BMCFacts: Sendable, Equatable {
    public var manufacturer, model, serial, biosVersion, bmcFirmware: String?

    public init(manufacturer: String? = nil, model: String? = nil, serial: String? = nil, biosVersion: String? = nil,
                bmcFirmware: String? = nil) {
        self.manufacturer = manufacturer
        self.model = model
        self.serial = serial
        self.biosVersion = biosVersion
        self.bmcFirmware = bmcFirmware
    }
}

/// The events the hook runner writes itself (the DHCP path writes the others in `decide`):
/// built here, beside them, so that the runner only delivers and records.
public enum HookEvents {
    /// `lease.expired` for a bound lease past its expiry; nil when no hook of its host's role
    /// subscribes to it (the expiry is still marked reported, so nothing piles up).
    public static func leaseExpired(_ lease: Lease, in revision: ZoneRevision, at now: Int64) -> ZoneEvent? {
        let role = lease.name.flatMap(revision.identity(named:))?.role
        guard revision.hooksWant(.leaseExpired, role: role) else { return nil }
        return ZoneEvent(type: .leaseExpired, address: lease.address, mac: MAC.text(lease.mac), name: lease.name,
                         pod: lease.pod, location: lease.location, details: ["expired_at": String(lease.expiresAt)], at: now)
    }

    /// `bmc.discovered` once the BMC that `event` is about (named `name`) registered over
    /// Redfish: what it told, under snake_case keys, with the hostname it was given.
    public static func bmcDiscovered(after event: ZoneEvent, name: String, facts: BMCFacts, at now: Int64) -> ZoneEvent {
        var details: [String: String] = [:]
        for (key, value) in [("manufacturer", facts.manufacturer), ("model", facts.model), ("serial", facts.serial),
                             ("bios_version", facts.biosVersion), ("bmc_firmware", facts.bmcFirmware), ("hostname", name)] {
            if let value { details[key] = value }
        }
        return ZoneEvent(type: .bmcDiscovered, address: event.address, mac: event.mac, name: name,
                         pod: event.pod, location: event.location, details: details, at: now)
    }
}

extension HookEvents {
    /// `bmc.certificate-changed` when the BMC that `event` is about (named `name`) presented
    /// `presented` where `pinned` was pinned: the registration was refused before any
    /// credential was sent, and waits for the operator (`zonectl bmcs forget`).
    public static func bmcCertificateChanged(after event: ZoneEvent, name: String, pinned: String, presented: String,
                                             at now: Int64) -> ZoneEvent {
        var details = ["pinned_sha256": pinned, "presented_sha256": presented]
        if let kind = event.details["device_kind"] { details["device_kind"] = kind }
        return ZoneEvent(type: .bmcCertificateChanged, address: event.address, mac: event.mac, name: name,
                         pod: event.pod, location: event.location, details: details, at: now)
    }
}
