import Addressing
import Boot
import NIOCore

/// What the etcd discovery coordination (`EtcdDiscoveryCoordinator`) asks of the engine, on
/// its event loop: the blocks it may allocate from, how many addresses it has left in them,
/// and the lease records other hosts wrote.
extension DHCPEngine {
    func coordinate(_ blocks: DiscoveryBlocks) {
        table.discoveryBlocks = blocks
    }

    /// Free addresses in hand per pod (counted up to `limit`), for the claimer.
    func freeInHeldBlocks(ranges: [String: IPv4Range], limit: Int) -> [String: Int] {
        guard let blocks = table.discoveryBlocks else { return [:] }
        let now = clock()
        return Dictionary(uniqueKeysWithValues: ranges.map { pod, range in
            (pod, table.freeInHeldBlocks(blocks, pod: pod, range: range, now: now, limit: limit))
        })
    }

    /// Leases another host committed (its lease records in etcd): seen by the next decision
    /// (a survivor renews a dead host's clients with the same address, and never gives that
    /// address to another machine) and by readers (`zonectl hosts`, `leases`). A record older
    /// than what the table holds for its address is ignored.
    func adopt(_ leases: [Lease]) {
        var adopted: [Lease] = []
        for lease in leases {
            if let current = table.lease(address: lease.address), current.updatedAt > lease.updatedAt { continue }
            table.apply(lease)
            adopted.append(lease)
        }
        directory.record(adopted)
    }
}

extension DHCPServer {
    /// Hosts on etcd: the blocks this host may allocate discovery addresses from.
    public func coordinate(_ blocks: DiscoveryBlocks) async {
        let engine = self.engine
        try? await engine.eventLoop.submit { engine.value.coordinate(blocks) }.get()
    }

    /// `wake` is called (on the engine's loop: it must only signal) whenever a DISCOVER finds
    /// this host's discovery blocks full.
    public func whenDiscoveryRunsShort(_ wake: @escaping @Sendable () -> Void) async {
        let engine = self.engine
        try? await engine.eventLoop.submit { engine.value.discoveryRanShort = wake }.get()
    }

    /// Free discovery addresses this host has in hand per pod, counted up to `limit`.
    public func freeInHeldBlocks(ranges: [String: IPv4Range], limit: Int) async -> [String: Int] {
        let engine = self.engine
        return (try? await engine.eventLoop.submit { engine.value.freeInHeldBlocks(ranges: ranges, limit: limit) }.get()) ?? [:]
    }

    /// Lease records other hosts wrote to etcd.
    public func adopt(_ leases: [Lease]) async {
        guard !leases.isEmpty else { return }
        let engine = self.engine
        try? await engine.eventLoop.submit { engine.value.adopt(leases) }.get()
    }
}
