import Addressing
import Boot
import Foundation
import Prometheus
import Store
import Zone

/// What /metrics serves: the one counters mechanism (`ServerCounters`) bridged into
/// Prometheus families at each scrape, the leases and the running revision as gauges, and
/// the durations measured as they happen (`durations`: commit and apply histograms).
///
/// Bridged, not duplicated: every count comes from the counters the counters file is
/// written from; a scrape reads each part's snapshot once and builds a fresh registry
/// (Prometheus counters only go up, the running totals are added once).
public final class ServerMetrics: Sendable {
    public let counters: ServerCounters
    let revisions: RevisionHolder
    let leases: CommittedLeases
    /// Histograms recorded as things happen (one registry for the process).
    let durations = PrometheusCollectorRegistry()
    /// One group commit of leases and events (SQLite transaction and fsync).
    public let commitDuration: DurationHistogram
    private let applyBuckets: [Swift.Duration] = [.milliseconds(10), .milliseconds(50), .milliseconds(100), .milliseconds(250),
                                            .milliseconds(500), .seconds(1), .milliseconds(2500), .seconds(5), .seconds(10),
                                            .seconds(30)]

    /// Each boot phase's duration from the step before it (`BootPhases`); none for the DHCP ACK, the first step.
    let bootPhaseHistograms: [BootPhase: DurationHistogram]

    public init(counters: ServerCounters, revisions: RevisionHolder, leases: CommittedLeases) {
        self.counters = counters
        self.revisions = revisions
        self.leases = leases
        commitDuration = durations.makeDurationHistogram(
            descriptor: MetricNameDescriptor(namespace: "zoneboot", subsystem: "dhcp4", metricName: "commit_duration",
                                             unitName: "seconds",
                                             helpText: "Group commits of leases and their events: one SQLite transaction with fsync, before the replies leave."),
            labels: [],
            buckets: [Swift.Duration.microseconds(250), .microseconds(500), .milliseconds(1), .milliseconds(2), .milliseconds(5),
                      .milliseconds(10), .milliseconds(25), .milliseconds(50), .milliseconds(100), .milliseconds(250),
                      .milliseconds(500), .seconds(1)])
        // Made at start, so that every phase's family is in the first scrape (the dashboard queries them).
        let phaseBuckets: [Swift.Duration] = [.milliseconds(100), .milliseconds(500), .seconds(1), .seconds(2), .seconds(5),
                                              .seconds(10), .seconds(20), .seconds(30), .seconds(60), .seconds(120),
                                              .seconds(300), .seconds(600), .seconds(1800)]
        var phases: [BootPhase: DurationHistogram] = [:]
        for phase in BootPhase.allCases.dropFirst() {
            phases[phase] = durations.makeDurationHistogram(
                descriptor: MetricNameDescriptor(namespace: "zoneboot", subsystem: "boot", metricName: "phase",
                                                 unitName: "seconds",
                                                 helpText: "Each boot phase's time from the step before it (loader_fetched: from the DHCP ACK; script_fetched: from the loader, or the ACK; booted: from the script; handoff: from booted)."),
                labels: [("phase", phase.rawValue)], buckets: phaseBuckets)
        }
        bootPhaseHistograms = phases
    }

    /// A revision made running by an apply, a rollback or SIGHUP: the time from the request
    /// to the swap (load, plan, record). Its count is the number of applies by origin.
    public func applied(origin: RevisionOrigin, duration: Swift.Duration) {
        durations.makeDurationHistogram(
            descriptor: MetricNameDescriptor(namespace: "zoneboot", subsystem: "zone", metricName: "apply_duration",
                                             unitName: "seconds",
                                             helpText: "Revisions made running (apply, rollback, SIGHUP of the zone file): load, plan, record and swap."),
            labels: [("origin", origin.rawValue)], buckets: applyBuckets
        ).record(duration)
    }

    /// The Prometheus text exposition (format 0.0.4) as of now.
    public func scrape(now: Int64 = Int64(Date().timeIntervalSince1970)) -> [UInt8] {
        let registry = PrometheusCollectorRegistry()
        Self.dhcp.register(counters.dhcp.snapshot, in: registry)
        Self.tftp.register(counters.tftp.snapshot, in: registry)
        Self.hooks.register(counters.hooks.snapshot, in: registry)
        Self.httpRequests.register(counters.http.snapshot, in: registry)
        Self.httpConnections.register(counters.httpConnections.counters, in: registry, labels: [("listener", "boot")])
        Self.httpConnections.register(counters.adminConnections.counters, in: registry, labels: [("listener", "admin")])
        let (revision, id) = revisions.currentWithID
        ZoneGauges(revision: revision, revisionID: id, leases: leases.all, now: now).register(in: registry)
        var buffer: [UInt8] = []
        buffer.reserveCapacity(16_384)
        registry.emit(into: &buffer)
        durations.emit(into: &buffer)
        return buffer
    }

    /// DHCP families take Kea's names where Kea has one (`pkt4-<type>-received` is
    /// `…_packets_received_total{operation}` in Kea's exporter).
    static let dhcp = CounterFamilies(
        fields: [
            "received": MetricField(name: "zoneboot_dhcp4_datagrams_received_total",
                                    help: "Datagrams read from the DHCP sockets, DHCP messages or not."),
            "received_by_type": MetricField(name: "zoneboot_dhcp4_packets_received_total",
                                            help: "DHCP messages received, by message type.", label: "operation"),
            "sent": MetricField(name: "zoneboot_dhcp4_packets_sent_total", help: "DHCP replies sent, by message type.",
                                label: "operation"),
            "malformed": MetricField(name: "zoneboot_dhcp4_packets_parse_failed_total",
                                     help: "Datagrams that are not DHCP messages, by codec reason."),
            "dropped": MetricField(name: "zoneboot_dhcp4_packets_dropped_total",
                                   help: "DHCP requests answered with nothing, by policy reason."),
            "silent": MetricField(name: "zoneboot_dhcp4_packets_unanswered_total",
                                  help: "DHCP requests that need no reply (RELEASE, DECLINE)."),
            "commits": MetricField(name: "zoneboot_dhcp4_commits_total", help: "Group commits of leases and events."),
            "commit_failures": MetricField(name: "zoneboot_dhcp4_commit_failures_total",
                                           help: "Group commits that failed: their replies were not sent."),
            "send_failed": MetricField(name: "zoneboot_dhcp4_send_failures_total",
                                       help: "Replies the kernel refused, by reason."),
        ],
        // The sum of send_failed.
        omitted: ["send_failures"],
        unlisted: CounterFamilies.named("zoneboot_dhcp4", part: "DHCP"))

    static let tftp = CounterFamilies(
        fields: [
            "received": MetricField(name: "zoneboot_tftp_packets_received_total", help: "Datagrams on the TFTP listening port."),
            "malformed": MetricField(name: "zoneboot_tftp_packets_parse_failed_total",
                                     help: "Datagrams on the TFTP port that are not TFTP, by codec reason."),
            "refused": MetricField(name: "zoneboot_tftp_requests_refused_total",
                                   help: "TFTP requests answered with an ERROR, by reason."),
            "ignored_options": MetricField(name: "zoneboot_tftp_options_ignored_total",
                                           help: "TFTP options not granted, as name:reason.", label: "option"),
            "ignored": MetricField(name: "zoneboot_tftp_packets_ignored_total", help: "TFTP packets not acted on, by reason."),
            "transfers_started": MetricField(name: "zoneboot_tftp_transfers_started_total", help: "TFTP transfers started."),
            "transfers_active": MetricField(name: "zoneboot_tftp_transfers_active", help: "TFTP transfers running.",
                                            kind: .gauge),
            "transfers_ended": MetricField(name: "zoneboot_tftp_transfers_total", help: "TFTP transfers ended, by outcome.",
                                           label: "outcome"),
            "buffer_bytes_in_use": MetricField(name: "zoneboot_tftp_buffer_bytes",
                                               help: "Bytes of the TFTP buffer budget the running transfers hold.", kind: .gauge),
            "bytes_sent": MetricField(name: "zoneboot_tftp_sent_bytes_total", help: "Bytes of file data sent over TFTP."),
        ],
        unlisted: CounterFamilies.named("zoneboot_tftp", part: "TFTP"))

    static let hooks = CounterFamilies(
        fields: [
            "runs": MetricField(name: "zoneboot_hook_runs_total", help: "Hook deliveries attempted (a process run or a webhook POST)."),
            "failures": MetricField(name: "zoneboot_hook_failures_total",
                                    help: "Hook deliveries that failed and are retried later (timeouts included)."),
            "timeouts": MetricField(name: "zoneboot_hook_timeouts_total", help: "Hook deliveries that ran out of time."),
            "delivered": MetricField(name: "zoneboot_hook_deliveries_total", help: "Events delivered to their hooks."),
            "dead_letters": MetricField(name: "zoneboot_hook_dead_letters_total",
                                        help: "Events given up on after their last retry."),
        ],
        unlisted: CounterFamilies.named("zoneboot_hook", part: "Hook runner"))

    /// The boot HTTP router's counters are by outcome: one family, and the bytes sent by outcome.
    static let httpRequests = CounterFamilies(
        fields: ["sent_bytes": MetricField(name: "zoneboot_http_sent_bytes_total",
                                           help: "Body bytes of successful boot HTTP answers, by what was served (loaders, files, host_files, handoff, bootstrap, other).",
                                           label: "outcome")],
        unlisted: { key in
        MetricField(name: "zoneboot_http_requests_total",
                    help: "Boot HTTP requests by outcome (host_files, loaders, booted, forbidden, not_found, onie, outside_directory).",
                    labels: [("outcome", key)])
    })

    static let httpConnections = CounterFamilies(
        fields: [
            "accepted": MetricField(name: "zoneboot_http_connections_accepted_total", help: "HTTP connections accepted, by listener."),
            "open": MetricField(name: "zoneboot_http_connections_open", help: "HTTP connections open, by listener.", kind: .gauge),
        ],
        unlisted: { key in
            MetricField(name: "zoneboot_http_connections_closed_early_total",
                        help: "HTTP connections refused or cut by the connection guard, by listener and reason.",
                        labels: [("reason", key)])
        })
}

/// The zone and its leases as gauges: the running revision, leases by pod and state,
/// each pod's discovery range and how much of it is held.
struct ZoneGauges {
    var revision: ZoneRevision
    var revisionID: Int?
    var leases: [Lease]
    var now: Int64

    func register(in registry: PrometheusCollectorRegistry) {
        gauge("zoneboot_zone_revision", "The running revision's number.", registry).set(to: Double(revisionID ?? 0))
        gauge("zoneboot_zone_identities", "Locations with an identity in the running revision.", registry)
            .set(to: Double(revision.identities.count))
        var byPodAndState: [String: [String: Int]] = [:]
        var discoveryHeld: [String: Int] = [:]
        let ranges = Dictionary(revision.spec.pods.compactMap { pod in pod.discovery.map { (pod.name.value, $0.range.value) } },
                                uniquingKeysWith: { first, _ in first })
        for lease in leases {
            let state = lease.state == .bound && lease.expiresAt <= now ? "expired" : lease.state.rawValue
            byPodAndState[lease.pod, default: [:]][state, default: 0] += 1
            guard lease.location == nil, let range = ranges[lease.pod], lease.expiresAt > now,
                  lease.state == .bound || lease.state == .offered || lease.state == .declined,
                  range.first <= lease.address, lease.address <= range.last else { continue }
            discoveryHeld[lease.pod, default: 0] += 1
        }
        for (pod, states) in byPodAndState.sorted(by: { $0.key < $1.key }) {
            for (state, count) in states.sorted(by: { $0.key < $1.key }) {
                gauge("zoneboot_leases", "Leases held in the store, by pod and state (bound past its expiry: expired).",
                      registry, [("pod", pod), ("state", state)]).set(to: Double(count))
            }
        }
        for (pod, range) in ranges.sorted(by: { $0.key < $1.key }) {
            let size = Double(range.last.value - range.first.value) + 1
            gauge("zoneboot_discovery_pool_addresses", "Addresses in the pod's discovery range.", registry, [("pod", pod)])
                .set(to: size)
            gauge("zoneboot_discovery_pool_in_use", "Discovery addresses held (offered, bound or declined, unexpired).",
                  registry, [("pod", pod)]).set(to: Double(discoveryHeld[pod] ?? 0))
        }
    }

    private func gauge(_ name: String, _ help: String, _ registry: PrometheusCollectorRegistry,
                       _ labels: [(String, String)] = []) -> Gauge {
        registry.makeGauge(descriptor: MetricNameDescriptor(metricName: name, unitName: "", helpText: help), labels: labels)
    }
}
