import Addressing
import Boot
import Foundation
import Testing
import Zone

@Suite struct RetryPolicyTests {
    @Test func waitsDoubleFromTheBaseUpToTheCap() {
        let policy = RetryPolicy(maxAttempts: 20, baseMs: 1_000, capMs: 30_000)
        #expect((1...7).map { policy.delayMs(afterAttempt: $0) } == [1_000, 2_000, 4_000, 8_000, 16_000, 30_000, 30_000])
    }

    @Test func theLastTryMakesADeadLetter() {
        let policy = RetryPolicy(maxAttempts: 3, baseMs: 500, capMs: 10_000)
        #expect(policy.afterFailure(attempt: 1, nowMs: 10_000) == .retry(atMs: 10_500))
        #expect(policy.afterFailure(attempt: 2, nowMs: 20_000) == .retry(atMs: 21_000))
        #expect(policy.afterFailure(attempt: 3, nowMs: 30_000) == .deadLetter)
        #expect(policy.afterFailure(attempt: 9, nowMs: 30_000) == .deadLetter)
    }

    @Test func hugeAttemptCountsNeitherOverflowNorTrap() {
        let policy = RetryPolicy(maxAttempts: Int.max, baseMs: Int64.max / 2, capMs: Int64.max)
        #expect(policy.delayMs(afterAttempt: 1_000_000) == Int64.max)
        #expect(RetryPolicy(maxAttempts: 0, baseMs: 0, capMs: 0) == RetryPolicy(maxAttempts: 1, baseMs: 1, capMs: 1))
    }
}

@Suite struct HookSelectionTests {
    private func revision(hooks: String, roles: String) throws -> ZoneRevision {
        let text = """
            apiVersion: zoneboot/v1
            zone: t
            domain: t.example.net
            pods:
              - name: p01
                relays: [198.18.16.1]
                networks:
                  lom: { subnet: 198.18.17.0/24, gateway: 198.18.17.1 }
                switches:
                  - name: lom-1
                    ports:
                      - { ports: swp1-swp2, rack: 1, units: 1-2, role: probe, network: lom, address: 198.18.17.11 }
            roles:
            \(roles)
            hooks:
            \(hooks)
            """
        return try ZoneLoader.load(source: ZoneSource(zoneFile: "t.yaml", text: text))
    }

    private func event(_ type: HookEvent, name: String?) -> ZoneEvent {
        ZoneEvent(type: type, address: IPv4Address(198, 18, 17, 11), mac: "52:54:00:00:00:01", name: name, pod: "p01",
                  location: Location(pod: "p01", switch: "lom-1", port: "swp1"), details: [:], at: 1)
    }

    @Test func theHostsRoleHooksThatSubscribeToTheTypeLessThoseDone() throws {
        let zone = try revision(hooks: """
              a: { on: [lease.acked], url: "http://198.18.0.5/a" }
              b: { on: [lease.acked, lease.expired], url: "http://198.18.0.5/b" }
              c: { on: [lease.acked], url: "http://198.18.0.5/c" }
            """, roles: """
              probe: { hooks: [a, b] }
            """)
        let name = zone.identities.first!.name
        #expect(HookSelection.hooks(for: event(.leaseAcked, name: name), in: zone).map(\.name.value) == ["a", "b"])
        #expect(HookSelection.hooks(for: event(.leaseExpired, name: name), in: zone).map(\.name.value) == ["b"])
        #expect(HookSelection.hooks(for: event(.leaseAcked, name: name), in: zone, except: ["a"]).map(\.name.value) == ["b"])
        #expect(HookSelection.hooks(for: event(.leaseReleased, name: name), in: zone).isEmpty)
        // Placed by location where the event names no host.
        #expect(HookSelection.hooks(for: event(.leaseAcked, name: nil), in: zone).map(\.name.value) == ["a", "b"])
    }

    @Test func zoneAppliedGoesToEveryHookThatSubscribesWhateverItsRoles() throws {
        let zone = try revision(hooks: """
              a: { on: [lease.acked], url: "http://198.18.0.5/a" }
              b: { on: [zone.applied], url: "http://198.18.0.5/b" }
              c: { on: [zone.applied, lease.acked], url: "http://198.18.0.5/c" }
            """, roles: """
              probe: { hooks: [a] }
            """)
        let applied = ZoneEvent.zoneApplied(revision: 3, zone: "t", author: "ops", summary: "1 changed", basedOn: 2, at: 1)
        #expect(HookSelection.hooks(for: applied, in: zone).map(\.name.value) == ["b", "c"])
        #expect(HookSelection.hooks(for: applied, in: zone, except: ["b"]).map(\.name.value) == ["c"])
        #expect(applied.details["revision"] == "3" && applied.details["based_on"] == "2")
    }

    @Test func unsubscribedTypesAreThoseNoHookListsAndNoEventOfThemHasHooks() throws {
        let zone = try revision(hooks: """
              a: { on: [lease.acked], url: "http://198.18.0.5/a" }
              b: { on: [zone.applied, lease.expired], url: "http://198.18.0.5/b" }
            """, roles: """
              probe: { hooks: [a, b] }
            """)
        let unsubscribed = HookSelection.unsubscribedTypes(in: zone)
        #expect(unsubscribed == Set(HookEvent.allCases).subtracting([.leaseAcked, .zoneApplied, .leaseExpired]))
        let name = zone.identities.first!.name
        for type in unsubscribed {
            #expect(HookSelection.hooks(for: event(type, name: name), in: zone).isEmpty)
        }
        #expect(HookSelection.unsubscribedTypes(in: try revision(hooks: " {}", roles: "  probe: {}")) == Set(HookEvent.allCases))
    }

    @Test func aHookDoesExactlyOneThing() {
        #expect(throws: ZoneLoadError.self) {
            try revision(hooks: "  a: { on: [lease.acked] }", roles: "  probe: { hooks: [a] }")
        }
        #expect(throws: ZoneLoadError.self) {
            try revision(hooks: "  a: { on: [lease.acked], url: \"http://198.18.0.5/\", builtin: redfish-register }",
                         roles: "  probe: { hooks: [a] }")
        }
        #expect(throws: ZoneLoadError.self) {
            try revision(hooks: "  a: { on: [lease.acked], builtin: redfish-register }", roles: "  probe: { hooks: [a] }")
        }
        #expect(throws: ZoneLoadError.self) {
            try revision(hooks: "  a: { on: [lease.acked], url: \"ftp://198.18.0.5/\" }", roles: "  probe: { hooks: [a] }")
        }
    }

    @Test func redfishRegisterReadsItsSettings() throws {
        let zone = try revision(hooks: """
              register: { on: [lease.acked], builtin: redfish-register, credentials: secrets/bmc.json,
                          tls: accept-self-signed, timeout: 20s, password: rotate }
            """, roles: "  probe: { hooks: [register] }")
        let hook = try #require(zone.spec.hooks.first)
        #expect(hook.action == .builtin(.redfishRegister))
        #expect(hook.tls?.value == .acceptSelfSigned)
        #expect(hook.timeout?.value.seconds == 20)
        #expect(hook.credentials?.value == "secrets/bmc.json")
        #expect(hook.password?.value == .rotate)
    }
}

@Suite struct HookPayloadTests {
    @Test func carriesTheIdAndTheKeyFieldsInJSONAndTheEnvironment() throws {
        let event = ZoneEvent(type: .leaseAcked, address: IPv4Address(198, 18, 16, 11), mac: "52:54:00:00:00:01",
                              name: "lab-p01-r01-u01", pod: "p01",
                              location: Location(pod: "p01", switch: "tor-a", port: "swp1"),
                              details: ["circuit_id": "swp1"], at: 1_700_000_000)
        let payload = HookPayload(id: 42, attempt: 2, event: event, zone: "lab")
        let json = try #require(try JSONSerialization.jsonObject(with: Data(payload.json())) as? [String: Any])
        #expect(json["id"] as? Int == 42)
        #expect(json["type"] as? String == "lease.acked")
        #expect(json["address"] as? String == "198.18.16.11")
        #expect(json["switch"] as? String == "tor-a")
        #expect((json["details"] as? [String: String])?["circuit_id"] == "swp1")
        #expect(payload.environment["ZONEBOOT_EVENT"] == "lease.acked")
        #expect(payload.environment["ZONEBOOT_EVENT_ID"] == "42")
        #expect(payload.environment["ZONEBOOT_NAME"] == "lab-p01-r01-u01")
        #expect(payload.environment["ZONEBOOT_ADDRESS"] == "198.18.16.11")
        #expect(payload.environment["ZONEBOOT_MAC"] == "52:54:00:00:00:01")
        #expect(payload.environment["ZONEBOOT_ATTEMPT"] == "2")
    }
}

/// Links a BMC answers with are followed with the shared credentials: only on the BMC itself.
@Suite struct RedfishPathTests {
    @Test(arguments: ["/redfish/v1/", "/redfish/v1/Systems/1", "/redfish/v1/Managers/1/EthernetInterfaces",
                      "/redfish/v1/Systems/System.Embedded.1", "/redfish/v1/Managers/iDRAC.Embedded.1/"])
    func pathsOnTheServiceAreFollowed(_ id: String) {
        #expect(RedfishPath.onService(id) == id)
    }

    @Test(arguments: [
        "@evil.example/redfish/v1/Systems/1",      // userinfo: the host would become evil.example
        ".evil.example/redfish/v1/Systems/1",      // a longer host name
        ":8443/redfish/v1/Systems/1",              // another port
        "//evil.example/redfish/v1/Systems/1",     // another authority
        "https://evil.example/redfish/v1/",        // an absolute URL
        "/redfish/v1/../../x", "/redfish/v1/./Systems", "/redfish//v1/Systems",
        "/redfish/v1/Systems/1@evil.example", "/redfish/v1/Systems/1?x=1", "/redfish/v1/Systems/1#x",
        "/redfish/v1/Systems/%2e%2e", "/redfish/v1/Sys tems", "/redfish/v1/Systems/\u{1b}[2J", "/other/v1/Systems", "",
    ])
    func pathsThatCouldLeaveTheServiceAreRefused(_ id: String) {
        #expect(RedfishPath.onService(id) == nil)
    }
}
