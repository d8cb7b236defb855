import Addressing
import Boot
import TestSupport
import Testing
import Zone

/// Who redfish-register sends the BMC credentials to, in the example zone: its lom-1 switch's
/// ports are `lom` ports (BMCs named `<host>-lom`), tor-a's are hypervisor ports.
@Suite struct RedfishEligibilityTests {
    let revision: ZoneRevision
    init() throws { revision = try ZoneLoader.load(path: exampleZonePath) }

    private func acked(_ kind: DeviceKind?, name: String? = "ams1-p01-r01-u07-lom", type: HookEvent = .leaseAcked,
                       location: Location? = Location(pod: "p01", switch: "lom-1", port: "swp7")) -> ZoneEvent {
        var details = ["circuit_id": "swp7"]
        if let kind { details["device_kind"] = kind.rawValue }
        return ZoneEvent(type: type, address: IPv4Address(198, 18, 17, 17), mac: "52:54:00:00:01:07", name: name,
                         pod: "p01", location: location, details: details, at: 1_800_000_000)
    }

    @Test(arguments: [DeviceKind.hpeILO, .dellIDRAC])
    func aRecognizedBMCOnALomPortIsRegistered(_ kind: DeviceKind) {
        #expect(RedfishEligibility.decide(acked(kind), in: revision) == .register(name: "ams1-p01-r01-u07-lom"))
    }

    /// A Supermicro BMC, an installed OS, a laptop: nothing says it is a BMC, so nothing is sent.
    @Test func aMachineThatNamesNoKindGetsNoRequest() {
        for event in [acked(.unknown), acked(nil)] {
            guard case .skip(let reason) = RedfishEligibility.decide(event, in: revision) else {
                Issue.record("an unrecognized machine would get the credentials")
                continue
            }
            #expect(reason.contains("did not say it is a BMC"))
        }
    }

    @Test(arguments: [DeviceKind.pxe, .httpBoot, .ipxe, .onie, .cumulus, .sonic, .arista])
    func aMiscabledMachineOnALomPortGetsNoRequest(_ kind: DeviceKind) {
        guard case .skip(let reason) = RedfishEligibility.decide(acked(kind), in: revision) else {
            Issue.record("a \(kind) on a lom port would get the credentials")
            return
        }
        #expect(reason.contains("not a BMC (miscabled)"))
    }

    @Test func aHostMiscabledEventIsNeverRegistered() {
        #expect(RedfishEligibility.decide(acked(.hpeILO, type: .hostMiscabled), in: revision)
            == .skip("a host.miscabled event: a machine of the wrong kind is on that port"))
    }

    /// An iLO plugged into a hypervisor port is a BMC, but not at a BMC's location.
    @Test func aBMCOnAHostPortGetsNoRequest() {
        let event = acked(.hpeILO, name: "ams1-p01-r01-u07", location: Location(pod: "p01", switch: "tor-a", port: "swp7"))
        #expect(RedfishEligibility.decide(event, in: revision)
            == .skip("ams1-p01-r01-u07 is a host port, not a lom port: only BMCs are registered"))
    }

    @Test func aMachineAtNoDeclaredOrNoLongerDeclaredLocationGetsNoRequest() {
        #expect(RedfishEligibility.decide(acked(.hpeILO, name: nil, location: nil), in: revision)
            == .skip("not at a declared location: no BMC to register"))
        #expect(RedfishEligibility.decide(acked(.hpeILO, name: "ams1-p01-r09-u99-lom"), in: revision)
            == .skip("ams1-p01-r09-u99-lom is not in the running zone any more"))
        // The name moved to another port since the event: whoever is at the event's port is not that BMC.
        let moved = acked(.hpeILO, location: Location(pod: "p01", switch: "lom-1", port: "swp8"))
        guard case .skip = RedfishEligibility.decide(moved, in: revision) else {
            Issue.record("an event from another port was registered under the name")
            return
        }
    }
}

@Suite struct CertificatePinTests {
    let first = "AA:" + Array(repeating: "01", count: 31).joined(separator: ":")
    let second = "BB:" + Array(repeating: "01", count: 31).joined(separator: ":")

    @Test func theFirstCertificateIsTrustedAndPinned() {
        #expect(CertificatePin.decide(presented: first, pinned: nil) == .trustOnFirstUse)
    }

    @Test func thePinnedCertificateMatchesWhateverTheCaseOfTheStoredPin() {
        #expect(CertificatePin.decide(presented: first, pinned: first) == .matches)
        #expect(CertificatePin.decide(presented: first, pinned: first.lowercased()) == .matches)
    }

    @Test func anotherCertificateIsRefused() {
        #expect(CertificatePin.decide(presented: second, pinned: first) == .changed(pinned: first))
        #expect(CertificatePin.decide(presented: "", pinned: first) == .changed(pinned: first))
    }

    /// As `openssl x509 -noout -fingerprint -sha256` prints it.
    @Test func fingerprintsAreColonSeparatedUppercaseHex() {
        #expect(CertificatePin.fingerprint(sha256: [0x00, 0x0F, 0xAB, 0xFF]) == "00:0F:AB:FF")
        #expect(CertificatePin.fingerprint(sha256: [UInt8]()) == "")
    }
}
