/// Every host's current boot (`BootTimeline`), keyed by identity name, and the rules that
/// turn what the listeners saw into steps: which lease is a new boot, which loader fetch a
/// reboot. Pure and bounded: at most `limit` hosts, the least recently heard of dropped first.
public struct BootTimelineBook: Sendable {
    /// A phase newly reached with its duration from the step before it: one histogram sample.
    public struct Measured: Sendable, Hashable {
        public var phase: BootPhase
        public var milliseconds: Int64

        public init(phase: BootPhase, milliseconds: Int64) {
            self.phase = phase
            self.milliseconds = milliseconds
        }
    }

    public private(set) var timelines: [String: BootTimeline] = [:]
    /// Far above a zone's identities (20,500 in the 10,000-host example): a bound on memory, not a policy.
    public let limit: Int

    public init(limit: Int = 100_000) { self.limit = max(1, limit) }

    public subscript(host: String) -> BootTimeline? { timelines[host] }

    /// A committed lease (`previous`: what its address held before). A grant starts the host's
    /// boot over at `dhcp_ack`; a renewal by the same machine (a booted host, or iPXE asking
    /// again after its chainload) changes nothing. Leases of no identity (discovery) are not kept.
    public mutating func committed(_ lease: Lease, previous: Lease?, atMs: Int64) {
        guard let name = lease.name, lease.state == .bound else { return }
        let mac = MAC.text(lease.mac), now = atMs / 1000
        let sameMachineBefore = previous.map { $0.belongs(toMAC: lease.mac, clientID: lease.clientID) } ?? false
        let renewal = sameMachineBefore && (previous.map { $0.state == .bound && $0.expiresAt > now } ?? false)
        if renewal, timelines[name]?.mac == mac { return }
        var timeline = timelines[name].flatMap { $0.mac == mac ? $0 : nil } ?? BootTimeline(mac: mac)
        timeline.restart()
        // As Decide's host.replaced: the address was held, unexpired, by another machine.
        if let previous, previous.state == .bound, previous.expiresAt > now, !sameMachineBefore {
            timeline.replacedMAC = MAC.text(previous.mac)
        }
        timeline.reach(.dhcpAck, atMs: atMs, detail: "\(lease.address)")
        store(timeline, as: name)
    }

    /// `host` (holding its lease with `mac`) fetched what `phase` stands for. A loader
    /// fetched after the host's script is a reboot whose DHCP was a renewal: the boot starts
    /// over from the loader. Returns the duration measured, if any.
    public mutating func fetched(_ phase: BootPhase, host: String, mac: String, atMs: Int64,
                                 detail: String) -> Measured? {
        var timeline = timelines[host].flatMap { $0.mac == mac ? $0 : nil } ?? BootTimeline(mac: mac)
        if phase == .loaderFetched, let latest = timeline.latest, latest > .loaderFetched { timeline.restart() }
        let measured = timeline.reach(phase, atMs: atMs, detail: detail)
        store(timeline, as: host)
        return measured.map { Measured(phase: phase, milliseconds: $0) }
    }

    private mutating func store(_ timeline: BootTimeline, as host: String) {
        timelines[host] = timeline
        guard timelines.count > limit else { return }
        // A tenth at once, so that a full book does not sort on every new host.
        let oldest = timelines.sorted { $0.value.updatedMs < $1.value.updatedMs }.prefix(max(1, limit / 10))
        for (name, _) in oldest where name != host { timelines[name] = nil }
    }
}
