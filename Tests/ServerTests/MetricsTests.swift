import Addressing
import Boot
import Foundation
import Prometheus
@testable import Server
import TestSupport
import Testing
import Zone

/// /metrics' bridge from the counters (`ServerMetrics.scrape`) and sd_notify's pure parts.
struct MetricsTests {
    private func metrics(leases: [Lease] = []) throws -> ServerMetrics {
        ServerMetrics(counters: ServerCounters(httpLimits: HTTPConnectionLimits()),
                      revisions: RevisionHolder(try ZoneLoader.load(path: exampleZonePath), id: 7), leases: CommittedLeases(leases))
    }

    private func lines(_ metrics: ServerMetrics, now: Int64 = 1_000) -> Set<String> {
        Set(String(decoding: metrics.scrape(now: now), as: UTF8.self).split(separator: "\n").map(String.init))
    }

    @Test func countersAppearUnderKeaStyleNamesWithHelpAndType() throws {
        let metrics = try metrics()
        metrics.counters.dhcp.update { counters in
            counters.received = 4
            counters.receivedByType = ["discover": 3, "request": 1]
            counters.sent = ["offer": 2]
            counters.commits = 1
        }
        let text = lines(metrics)
        #expect(text.contains(#"zoneboot_dhcp4_packets_received_total{operation="discover"} 3"#))
        #expect(text.contains(#"zoneboot_dhcp4_packets_received_total{operation="request"} 1"#))
        #expect(text.contains(#"zoneboot_dhcp4_packets_sent_total{operation="offer"} 2"#))
        #expect(text.contains("zoneboot_dhcp4_datagrams_received_total 4"))
        #expect(text.contains("# TYPE zoneboot_dhcp4_packets_received_total counter"))
        #expect(text.contains { $0.hasPrefix("# HELP zoneboot_dhcp4_packets_received_total ") })
        #expect(text.contains("zoneboot_zone_revision 7.0"))
        // The sum of send_failed is not a family of its own.
        #expect(!text.contains { $0.hasPrefix("zoneboot_dhcp4_send_failures_total ") })
    }

    @Test func aReasonOrFieldAddedLaterAppearsWithoutAChangeHere() throws {
        let metrics = try metrics()
        metrics.counters.dhcp.update { $0.dropped["a-reason-added-later", default: 0] += 2 }
        #expect(lines(metrics).contains(#"zoneboot_dhcp4_packets_dropped_total{reason="a-reason-added-later"} 2"#))

        struct Later: Encodable { var widgetsFrobbed = 5; var byColour = ["red": 1] }
        let registry = PrometheusCollectorRegistry()
        ServerMetrics.dhcp.register(Later(), in: registry)
        let text = registry.emitToString()
        #expect(text.contains("zoneboot_dhcp4_widgets_frobbed_total 5"))
        #expect(text.contains(#"zoneboot_dhcp4_by_colour_total{reason="red"} 1"#))
    }

    @Test func leasesByPodAndStateAndTheDiscoveryPool() throws {
        let zone = try ZoneLoader.load(path: exampleZonePath)
        let pod = try #require(zone.spec.pods.first { $0.discovery != nil })
        let range = try #require(pod.discovery).range.value
        func lease(_ offset: UInt32, _ state: Lease.State, expires: Int64 = 2_000) -> Lease {
            Lease(address: IPv4Address(range.first.value + offset), mac: [2, 0, 0, 0, 0, UInt8(offset)], clientID: nil,
                  pod: pod.name.value, location: nil, name: nil, state: state, expiresAt: expires, updatedAt: 0)
        }
        let metrics = try metrics(leases: [lease(0, .bound), lease(1, .offered), lease(2, .bound, expires: 10), lease(3, .released)])
        let text = lines(metrics)
        let name = pod.name.value
        #expect(text.contains(#"zoneboot_leases{pod="\#(name)",state="bound"} 1.0"#))
        #expect(text.contains(#"zoneboot_leases{pod="\#(name)",state="expired"} 1.0"#))
        #expect(text.contains(#"zoneboot_leases{pod="\#(name)",state="released"} 1.0"#))
        #expect(text.contains(#"zoneboot_discovery_pool_in_use{pod="\#(name)"} 2.0"#))
        #expect(text.contains(#"zoneboot_discovery_pool_addresses{pod="\#(name)"} \#(range.last.value - range.first.value + 1).0"#))
    }

    /// 20,000 leases (the 10,000-host zone's hosts and BMCs): every one counted; the time is printed, not asserted.
    @Test func aScrapeCountsEveryLease() throws {
        let leases = (0..<20_000).map { (index: Int) -> Lease in
            let address = IPv4Address(UInt32(0xC612_0000) + UInt32(index))
            let mac: [UInt8] = [2, 0, 0, 0, UInt8((index >> 8) & 0xFF), UInt8(index & 0xFF)]
            let state: Lease.State = index % 10 == 0 ? .offered : .bound
            return Lease(address: address, mac: mac, clientID: nil, pod: "p\(index % 25)", location: nil, name: "h\(index)",
                         state: state, expiresAt: 2_000, updatedAt: 0)
        }
        let metrics = try metrics(leases: leases)
        let started = ContinuousClock.now
        let text = lines(metrics)
        print("scrape with \(leases.count) leases: \(ContinuousClock.now - started)")
        let counted = text.filter { $0.hasPrefix("zoneboot_leases{") }.compactMap { Double($0.split(separator: " ").last ?? "") }
        #expect(counted.reduce(0, +) == 20_000)
        // 25 pods with bound leases; offered ones (every tenth) fall in the five pods p0, p5 ... p20.
        #expect(counted.count == 25 + 5)
    }

    @Test func commitsAndAppliesAreHistograms() throws {
        let metrics = try metrics()
        metrics.commitDuration.record(.milliseconds(3))
        metrics.applied(origin: .apply, duration: .milliseconds(120))
        let text = lines(metrics)
        #expect(text.contains("zoneboot_dhcp4_commit_duration_seconds_count 1"))
        #expect(text.contains(#"zoneboot_dhcp4_commit_duration_seconds_bucket{le="0.005"} 1"#))
        #expect(text.contains(#"zoneboot_dhcp4_commit_duration_seconds_bucket{le="0.002"} 0"#))
        #expect(text.contains(#"zoneboot_zone_apply_duration_seconds_count{origin="apply"} 1"#))
    }

    @Test func notifySocketAddresses() {
        #expect(SystemdNotifier.Address(notifySocket: "/run/systemd/notify") == .path("/run/systemd/notify"))
        #expect(SystemdNotifier.Address(notifySocket: "@zoneboot/notify") == .abstract("zoneboot/notify"))
        #expect(SystemdNotifier.Address(notifySocket: "@zoneboot/notify")?.sunPath.first == 0)
        #expect(SystemdNotifier.Address(notifySocket: "/run/x")?.sunPath.last == 0)
        for unusable in [nil, "", "relative/path", "vsock:2:1234", "/" + String(repeating: "a", count: 200)] {
            #expect(SystemdNotifier.Address(notifySocket: unusable) == nil)
        }
    }

    @Test func watchdogIntervalIsHalfOfWatchdogUsecForThisProcessOnly() {
        #expect(SystemdNotifier.watchdogInterval(usec: "30000000", pid: nil, ownPID: 42) == .seconds(15))
        #expect(SystemdNotifier.watchdogInterval(usec: "400000", pid: "42", ownPID: 42) == .milliseconds(200))
        #expect(SystemdNotifier.watchdogInterval(usec: "400000", pid: "43", ownPID: 42) == nil)
        for unusable in [nil, "", "0", "-5", "ten", "99999999999999999999"] {
            #expect(SystemdNotifier.watchdogInterval(usec: unusable, pid: nil, ownPID: 42) == nil)
        }
        #expect(SystemdNotifier.status("two\nlines") == "STATUS=two lines")
    }
}
