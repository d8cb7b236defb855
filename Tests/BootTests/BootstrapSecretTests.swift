import Addressing
import Boot
import Foundation
import TestSupport
import Testing
import Zone

/// Bootstrap secrets' rules: who may fetch, when one is issued, served once, expired or gone.
@Suite struct BootstrapSecretTests {
    let revision: ZoneRevision
    let now: Int64 = 1_800_000_000
    let host = "ams1-p01-r01-u07"
    let address = IPv4Address(198, 18, 16, 17)
    let mac = "52:54:00:00:00:07"

    init() throws { revision = try ZoneLoader.load(path: exampleZonePath) }

    private func lease(mac last: UInt8 = 7, name: String? = "ams1-p01-r01-u07", address: IPv4Address? = nil,
                       state: Lease.State = .bound) -> Lease {
        Lease(address: address ?? self.address, mac: [0x52, 0x54, 0, 0, 0, last], clientID: nil, pod: "p01",
              location: name == nil ? nil : Location(pod: "p01", switch: "tor-a", port: "swp7"), name: name, state: state,
              expiresAt: now + 3600, updatedAt: now)
    }

    private func fetch(_ name: String = "chef-client-key", host: String? = nil, from client: IPv4Address? = nil,
                       leases: [Lease]? = nil, record: BootstrapSecretRecord?, at time: Int64? = nil) -> BootstrapFetch {
        let table = leases ?? [lease()]
        return BootstrapSecrets.fetch(host: host ?? self.host, name: name, from: client ?? address, revision: revision,
                                      now: time ?? now, lease: { a in table.first { $0.address == a } }, record: record)
    }

    private func record(_ state: BootstrapSecretRecord.State, mac: String? = nil, expiresAt: Int64? = nil,
                        generation: Int = 1) -> BootstrapSecretRecord {
        BootstrapSecretRecord(host: host, name: "chef-client-key", kind: .rsaKey, state: state, generation: generation,
                              issuedAt: now - 60, expiresAt: expiresAt ?? now + 7140, mac: mac ?? self.mac)
    }

    @Test func theKickstartFetchesTheHostsOwnKeyAndNoValidatorKey() throws {
        let identity = try #require(revision.identity(named: host))
        let kickstart = try #require(HostFiles.render("ks.cfg", of: identity, in: revision)).content
        #expect(kickstart.contains("curl -fsS -o /etc/chef/client.pem http://198.18.0.10/bootstrap/\(host)/chef-client-key"))
        #expect(!kickstart.contains("validation"))
        // A role without a profile that declares secrets has no `bootstrap` variable.
        let bmc = try #require(revision.identities.first { $0.kind == .bmc })
        #expect(BootstrapSecrets.templateContext(bmc, in: revision) == nil)
    }

    @Test func onlyTheAddressHoldingTheHostsLeaseMayFetch() {
        #expect(fetch(record: nil) == .serve(expected: nil, spec: .init(kind: .rsaKey, ttl: 7200)))
        // A neighbour host asking for this host's key from its own leased address.
        let neighbour = IPv4Address(198, 18, 16, 18)
        let neighbours = [lease(), lease(mac: 8, name: "ams1-p01-r01-u08", address: neighbour)]
        guard case .forbidden = fetch(from: neighbour, leases: neighbours, record: nil) else {
            Issue.record("a neighbour got the key")
            return
        }
        // A discovered machine: a lease without a name.
        let discovered = IPv4Address(198, 18, 16, 200)
        guard case .forbidden = fetch(from: discovered, leases: [lease(mac: 9, name: nil, address: discovered)], record: nil)
        else {
            Issue.record("a discovered machine got the key")
            return
        }
        guard case .forbidden = fetch(leases: [lease(state: .released)], record: nil) else {
            Issue.record("a released lease got the key")
            return
        }
        guard case .notFound = fetch("validator", record: nil), case .notFound = fetch(host: "nobody", record: nil) else {
            Issue.record("an undeclared secret or host was not 404")
            return
        }
    }

    @Test func issuedIsServedOnceThenGoneAndExpiredIsGone() {
        let issued = record(.issued)
        #expect(fetch(record: issued) == .serve(expected: issued, spec: .init(kind: .rsaKey, ttl: 7200)))
        let served = BootstrapSecrets.served(issued, host: host, name: "chef-client-key", spec: .init(kind: .rsaKey, ttl: 7200),
                                             to: address, mac: mac, fingerprint: "sha256:ab", now: now)
        #expect(served.state == .used && served.generation == issued.generation && served.issuedAt == issued.issuedAt)
        #expect(served.servedTo == address && served.fingerprint == "sha256:ab")
        guard case .gone = fetch(record: served) else {
            Issue.record("served twice")
            return
        }
        guard case .gone = fetch(record: record(.issued, expiresAt: now)) else {
            Issue.record("an expired secret was served")
            return
        }
        #expect(record(.issued, expiresAt: now).status(at: now) == "expired")
        #expect(issued.status(at: now) == "issued" && served.status(at: now) == "used")
    }

    @Test func aReplacedMachineMayHaveANewOneTheSameMachineMayNot() {
        let used = record(.used, mac: "52:54:00:00:00:01", generation: 3)
        #expect(fetch(record: used) == .serve(expected: used, spec: .init(kind: .rsaKey, ttl: 7200)))
        let served = BootstrapSecrets.served(used, host: host, name: "chef-client-key", spec: .init(kind: .rsaKey, ttl: 7200),
                                             to: address, mac: mac, fingerprint: "sha256:cd", now: now)
        #expect(served.generation == 4 && served.issuedAt == now && served.mac == mac)
    }

    @Test func aRenderIssuesWhatNeedsIssuing() throws {
        let identity = try #require(revision.identity(named: host))
        func issues(_ existing: BootstrapSecretRecord?, mac: String? = nil) -> [BootstrapSecretRecord] {
            BootstrapSecrets.issues(for: identity, in: revision, mac: mac ?? self.mac, existing: { _ in existing }, now: now)
        }
        let first = issues(nil)
        #expect(first.count == 1)
        #expect(first.first?.state == .issued && first.first?.generation == 1 && first.first?.expiresAt == now + 7200)
        #expect(issues(record(.issued)).isEmpty)
        #expect(issues(record(.used)).isEmpty)
        #expect(issues(record(.issued, expiresAt: now - 1, generation: 2)).map(\.generation) == [3])
        #expect(issues(record(.used), mac: "52:54:00:00:00:99").map(\.generation) == [2])
    }

    @Test func mintedSecretsAreFreshAndTheEventCarriesOnlyWhatIsPublic() throws {
        let token = try BootstrapSecretMint.mint(.token)
        let value = token.value.trimmingCharacters(in: .newlines)
        #expect(value.count == 43 && value.allSatisfy { $0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" })
        #expect(token.tokenSHA256 == BootstrapSecretMint.sha256Hex(value))
        #expect(token.fingerprint == "sha256:" + BootstrapSecretMint.sha256Hex(value))
        #expect(try BootstrapSecretMint.mint(.token).value != token.value)

        let key = try BootstrapSecretMint.mint(.rsaKey)
        #expect(key.value.hasPrefix("-----BEGIN RSA PRIVATE KEY-----"))
        let publicKey = try #require(key.publicKey)
        #expect(publicKey.hasPrefix("-----BEGIN PUBLIC KEY-----"))
        #expect(key.fingerprint.hasPrefix("sha256:") && key.fingerprint.count == 7 + 64)
        #expect(try BootstrapSecretMint.mint(.rsaKey).fingerprint != key.fingerprint)

        let served = BootstrapSecrets.served(nil, host: host, name: "chef-client-key", spec: .init(kind: .rsaKey, ttl: 7200),
                                             to: address, mac: mac, fingerprint: key.fingerprint, now: now)
        let event = BootstrapSecrets.issuedEvent(served, minted: key, lease: lease(), now: now)
        #expect(event.type == .bootstrapIssued && event.name == host && event.address == address)
        #expect(event.details["public_key"] == publicKey && event.details["fingerprint"] == key.fingerprint)
        #expect(!event.details.values.contains { $0.contains("PRIVATE") })
        let tokenEvent = BootstrapSecrets.issuedEvent(served, minted: token, lease: lease(), now: now)
        #expect(tokenEvent.details["token_sha256"] == token.tokenSHA256)
        #expect(!tokenEvent.details.values.contains { $0.contains(value) })
    }
}
