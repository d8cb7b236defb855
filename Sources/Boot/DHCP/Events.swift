import Addressing
import Zone

extension DHCPPolicy {
    /// The outbox keeps what hooks run on, and every host.* event (rare, and what operators
    /// look for); a lease event no hook of the host's role wants is not even built.
    static func recorded(_ type: HookEvent, _ placement: Placement, _ revision: ZoneRevision) -> Bool {
        type == .hostReplaced || type == .hostDiscovered || type == .hostMiscabled
            || revision.hooksWant(type, role: placement.identity?.role)
    }

    static func event(_ type: HookEvent, _ facts: RequestFacts, _ placement: Placement,
                      _ address: IPv4Address, _ now: Int64) -> ZoneEvent {
        var details: [String: String] = [:]
        if let vendor = facts.safeVendorClass { details["vendor_class"] = vendor }
        if let circuit = facts.relayInformation?.circuitID { details["circuit_id"] = circuit }
        if let remote = facts.relayInformation?.remoteID { details["remote_id"] = remote }
        let device = facts.device
        details["device_kind"] = device.kind.rawValue
        if let model = device.model { details["device_model"] = model }
        if let serial = device.serial { details["device_serial"] = serial }
        return ZoneEvent(type: type, address: address, mac: facts.macText, name: placement.identity?.name,
                         pod: placement.pod, location: placement.location, details: details, at: now)
    }
}
