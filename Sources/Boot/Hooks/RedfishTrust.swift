import Zone

/// Whether redfish-register may send the zone's BMC credentials to the machine an event is
/// about. The credentials are shared by every BMC of the hook, so they go only to a machine
/// that is at a `lom` port of the running zone and said it is a BMC (iLO, iDRAC): a server's
/// PXE ROM, a switch or an installed OS plugged into that port, or a machine that names no
/// kind at all, gets no request.
public enum RedfishEligibility: Sendable, Equatable {
    /// Register the BMC under this zone name.
    case register(name: String)
    /// Send nothing; the reason is recorded with the event's delivery (it is not retried).
    case skip(String)

    public static func decide(_ event: ZoneEvent, in revision: ZoneRevision) -> RedfishEligibility {
        guard event.type != .hostMiscabled else {
            return .skip("a host.miscabled event: a machine of the wrong kind is on that port")
        }
        guard let name = event.name else { return .skip("not at a declared location: no BMC to register") }
        guard let identity = revision.identity(named: name) else {
            return .skip("\(name) is not in the running zone any more")
        }
        guard identity.kind == .bmc else {
            return .skip("\(name) is a \(identity.kind.rawValue) port, not a lom port: only BMCs are registered")
        }
        if let location = event.location, location != identity.location {
            return .skip("\(name) is at \(identity.location) now, the event at \(location)")
        }
        let kind = event.details["device_kind"].flatMap(DeviceKind.init(rawValue:)) ?? .unknown
        switch kind.category {
        case .bmc:
            return .register(name: name)
        case .unknown:
            return .skip("the machine at \(name) did not say it is a BMC (device kind unknown): "
                + "the credentials go only to a recognized BMC (hpe-ilo, dell-idrac)")
        case .server, .switchOS:
            return .skip("the machine at \(name) is a \(kind.rawValue), not a BMC (miscabled): no credentials sent")
        }
    }
}

/// Trust on first use of a BMC's certificate: the SHA-256 fingerprint of the leaf certificate
/// (its DER) that the BMC presented at its first registration is kept with its record, and a
/// connection that presents another is refused in the TLS handshake, before any request (and
/// so any credential) is written.
public enum CertificatePin {
    public enum Decision: Sendable, Equatable {
        /// Nothing pinned yet: this certificate becomes the pin.
        case trustOnFirstUse
        case matches
        /// Refused: another certificate than the pinned one.
        case changed(pinned: String)
    }

    public static func decide(presented: String, pinned: String?) -> Decision {
        guard let pinned else { return .trustOnFirstUse }
        // Compared as written by `fingerprint(sha256:)`; a pin edited by hand in another case still matches.
        return pinned.uppercased() == presented.uppercased() ? .matches : .changed(pinned: pinned)
    }

    /// `AB:CD:...`, 32 bytes: the form `openssl x509 -noout -fingerprint -sha256` prints, so an
    /// operator can compare it with the BMC's certificate by eye.
    public static func fingerprint(sha256 digest: some Sequence<UInt8>) -> String {
        let hex = Array("0123456789ABCDEF")
        return digest.map { String([hex[Int($0 >> 4)], hex[Int($0 & 0xF)]]) }.joined(separator: ":")
    }
}
