import Addressing
import Boot
import Etcd
import Foundation
import Logging
import ServiceLifecycle
import Store

/// With `--etcd`: makes this host's discovery addresses unique among the zone's hosts, and
/// shows it the leases the others commit.
///
/// - Blocks: it claims blocks of each pod's discovery range under the host's etcd lease
///   (`EtcdHostLease`, shared with the outbox claims, renewed every third of its TTL), ahead
///   of need, off the DHCP hot path, several to a transaction (`DiscoveryBlocks` decides
///   which and how many); the engine allocates only inside them. A restarted host takes back
///   the blocks its earlier run held.
///   When no block is left free it borrows nothing: its DISCOVERs are dropped as
///   `discovery-pool-exhausted`. A host that dies stops renewing, etcd deletes its block keys
///   after the TTL, and the survivors may claim them.
/// - Records: it reads every lease record at start and watches them; another host's leases go
///   into the engine's table (a dead host's clients are renewed by the survivor with the same
///   address, and that address is not given to another machine). A freshly claimed block's
///   records are read before it is used, so a watch that lags cannot hide a dead host's lease.
/// - etcd out of reach, or the lease not renewed for half its TTL: discovery is stopped at once
///   (before the lease can expire and another host take the blocks), logged once, and resumed,
///   logged once, when etcd answers again (with the same blocks if the lease lived on).
public struct EtcdDiscoveryCoordinator: Service {
    let client: EtcdClient
    /// This host's one etcd lease, shared with its outbox claims.
    let lease: EtcdHostLease
    let keys: EtcdZoneKeys
    /// Names this host in block values and lease records (its server identifier).
    let host: String
    let revisions: RevisionHolder
    let server: @Sendable () -> DHCPServer?
    let blockSize: Int
    let logger: Logger

    public init(client: EtcdClient, lease: EtcdHostLease, keys: EtcdZoneKeys, host: String, revisions: RevisionHolder,
                server: @escaping @Sendable () -> DHCPServer?, blockSize: Int = DiscoveryBlocks.defaultBlockSize, logger: Logger) {
        self.client = client
        self.lease = lease
        self.keys = keys
        self.host = host
        self.revisions = revisions
        self.server = server
        self.blockSize = blockSize
        self.logger = logger
    }

    public func run() async throws {
        await cancelWhenGracefulShutdown {
            guard let server = await started() else { return }
            // Every record first: no block is used before this host knows the leases in it.
            var failing = false
            while !Task.isCancelled {
                do {
                    let (records, revision) = try await EtcdLeaseRecords.all(kv: client, keys: keys)
                    await server.adopt(records.map(\.lease))
                    logger.info("\(records.count) lease records read from etcd")
                    // The claimer looks every 100 ms, and at once when a DISCOVER found its blocks full.
                    let (looks, look) = AsyncStream<Void>.makeStream(bufferingPolicy: .bufferingNewest(1))
                    await server.whenDiscoveryRunsShort { look.yield() }
                    await withDiscardingTaskGroup { group in
                        group.addTask {
                            while !Task.isCancelled {
                                look.yield()
                                try? await Task.sleep(for: .milliseconds(100))
                            }
                            look.finish()
                        }
                        group.addTask { await coordinateBlocks(server, looks: looks) }
                        group.addTask { await followRecords(server, from: revision + 1) }
                        group.addTask { await rereadRecords(server, from: revision) }
                    }
                    return
                } catch {
                    if !failing { logger.warning("discovery waits for etcd: no discovery address is given until the lease records are read: \(error)") }
                    failing = true
                    try? await Task.sleep(for: .seconds(1))
                }
            }
        }
        await client.shutdown()
    }

    /// The DHCP server, once it has started (nil: cancelled first).
    private func started() async -> DHCPServer? {
        while !Task.isCancelled {
            if let server = server() { return server }
            try? await Task.sleep(for: .milliseconds(10))
        }
        return nil
    }

    /// Each pod's discovery range in the running revision.
    private var ranges: [String: IPv4Range] {
        var ranges: [String: IPv4Range] = [:]
        for pod in revisions.current.spec.pods {
            if let discovery = pod.discovery { ranges[pod.name.value] = discovery.range.value }
        }
        return ranges
    }

    // MARK: Blocks

    private func coordinateBlocks(_ server: DHCPServer, looks: AsyncStream<Void>) async {
        let claimsStore = EtcdDiscoveryBlockClaims(kv: client, keys: keys)
        var blocks = DiscoveryBlocks(blockSize: blockSize, available: false)
        var lease: Int64?
        var lostSince: ContinuousClock.Instant?
        var started = false
        var lastFree: [String: Int] = [:]
        var lastExhausted = 0
        var known: [String: KnownClaims] = [:]
        // Where this host starts looking for free blocks: spread by its address, so hosts
        // starting together do not race for the same ones.
        let offset = Int((UInt64(IPv4Address(host)?.value ?? 0) &* 2_654_435_761) % 1_000_003)
        var lastLook = ContinuousClock.now - .seconds(1)
        for await _ in looks {
            // Wake-ups from a flood of DISCOVERs on a full range come at most 50 times a second.
            try? await Task.sleep(until: lastLook + .milliseconds(20))
            lastLook = .now
            do {
                // Renewed here when due (every third of the TTL).
                let current = try await self.lease.current(nowMs: Self.nowMs())
                if current != lease {
                    // A new lease (the first, or the last one expired): the blocks held under the
                    // old one are gone, or are taken back below if it still runs.
                    lease = current
                    blocks.dropAll()
                    known = [:]
                }
                let ranges = self.ranges
                let free = await server.freeInHeldBlocks(ranges: ranges, limit: Self.countedFree * blockSize)
                // DISCOVERs turned away for want of an address count as addresses used: a
                // storm's first burst asks for more than the blocks held.
                let exhausted = server.statistics.snapshot.dropped[DropReason.poolExhausted.rawValue] ?? 0
                let turnedAway = max(0, exhausted - lastExhausted)
                lastExhausted = exhausted
                for (pod, range) in ranges.sorted(by: { $0.key < $1.key }) {
                    let inHand = free[pod] ?? 0
                    let used = max(0, (lastFree[pod] ?? inHand) - inHand) + turnedAway
                    let wanted = blocks.blocksWanted(free: inHand, usedSinceLastLook: used, rangeBlocks: blocks.blockCount(of: range))
                    if wanted > 0 || blocks.held[pod] == nil {
                        try await claim(max(wanted, 1), pod: pod, range: range, lease: current, blocks: &blocks,
                                        known: &known[pod, default: KnownClaims()], store: claimsStore, server: server, offset: offset)
                    }
                    lastFree[pod] = await server.freeInHeldBlocks(ranges: [pod: range], limit: Self.countedFree * blockSize)[pod] ?? 0
                }
                blocks.available = true
                await server.coordinate(blocks)
                let held = blocks.held.values.reduce(0) { $0 + $1.count }
                if let since = lostSince {
                    lostSince = nil
                    logger.notice("discovery resumed: etcd answers again; discovery addresses given from \(held) blocks of \(blockSize) held under etcd lease \(current)",
                                  metadata: ["after": "\(ContinuousClock.now - since)"])
                } else if !started {
                    logger.info("discovery addresses given from \(held) blocks of \(blockSize) claimed under etcd lease \(current)")
                }
                started = true
            } catch {
                if Task.isCancelled { break }
                if lostSince == nil {
                    lostSince = .now
                    logger.warning("discovery stopped: etcd is out of reach, discovery addresses are neither given nor renewed until it answers again (declared ports are answered as ever): \(error)")
                }
                blocks.available = false
                await server.coordinate(blocks)
            }
            // Not renewed for half the TTL: stop before another host may take the blocks.
            if blocks.available, let renewed = self.lease.renewedMs, Self.nowMs() - renewed > self.lease.ttlSeconds * 1000 / 2 {
                blocks.available = false
                await server.coordinate(blocks)
            }
        }
        await self.lease.revoke()
    }

    /// Wall-clock milliseconds, as the outbox reads them: the host lease is renewed by both.
    private static func nowMs() -> Int64 { Int64(Date().timeIntervalSince1970 * 1000) }

    /// Free addresses in hand are counted up to this many blocks' worth: past what a storm asks
    /// (four times what was used since the last look, 32 blocks at most per round).
    private static let countedFree = 64

    /// What this host knows of a pod's claims in etcd: read again before a claim when older than
    /// 2 s, and at once when a claim is lost to another host, not before every claim (a claim round is then one write
    /// and one read, and a storm waits less for its blocks).
    private struct KnownClaims {
        var taken: Set<IPv4Address> = []
        var readAt: ContinuousClock.Instant?

        var isStale: Bool { readAt.map { ContinuousClock.now - $0 > .seconds(2) } ?? true }
    }

    /// Every claim of `pod` read again. What etcd says this lease holds is the truth: a claim
    /// whose answer was lost (or whose records were not read) is this host's too, once the
    /// records inside are read. Blocks its host claimed under another lease are an earlier
    /// run's of this host (host identities are unique in a zone): taken back.
    private func reread(pod: String, range: IPv4Range, lease: Int64, blocks: inout DiscoveryBlocks, known: inout KnownClaims,
                        store: EtcdDiscoveryBlockClaims, server: DHCPServer) async throws {
        let claimed = try await store.claimed(pod: pod)
        var ours = Set(claimed.filter { $0.value.lease == lease }.keys)
        // This host's blocks from an earlier run (killed, crashed): taken back at once, with
        // the leases given from them (in the local store, and in etcd's records read below).
        let earlier = claimed.filter { $0.value.host == host && $0.value.lease != lease }
        if !earlier.isEmpty {
            let moved = try await store.takeBack(pod: pod, claims: earlier, lease: lease, host: host)
            ours.formUnion(moved)
            logger.info("took back \(moved.count) of \(earlier.count) discovery blocks claimed by this host's earlier run",
                        metadata: ["pod": "\(pod)"])
        }
        try await adoptRecords(inBlocks: ours.filter { !(blocks.held[pod] ?? []).contains($0) }, of: range, blocks: blocks, server: server)
        blocks.setHeld(ours, pod: pod)
        known = KnownClaims(taken: Set(claimed.keys), readAt: .now)
    }

    /// The lease records inside `firsts` (blocks of `range` now this host's), into the engine's
    /// table before it may allocate there: an address a dead host gave is never given again.
    private func adoptRecords(inBlocks firsts: some Collection<IPv4Address>, of range: IPv4Range, blocks: DiscoveryBlocks,
                              server: DHCPServer) async throws {
        guard !firsts.isEmpty else { return }
        let inside = try await EtcdLeaseRecords.records(kv: client, keys: keys, addresses: firsts.flatMap { blocks.addresses(ofBlock: $0, in: range) })
        await server.adopt(inside.map(\.lease))
    }

    /// Claims up to `count` free blocks of `pod` in one transaction, and reads the lease records
    /// inside them before the engine may use them.
    private func claim(_ count: Int, pod: String, range: IPv4Range, lease: Int64, blocks: inout DiscoveryBlocks,
                       known: inout KnownClaims, store: EtcdDiscoveryBlockClaims, server: DHCPServer, offset: Int) async throws {
        if known.isStale {
            try await reread(pod: pod, range: range, lease: lease, blocks: &blocks, known: &known, store: store, server: server)
        }
        var got = 0
        // Lost to another host's claim: what is claimed is read again, and the rest tried again.
        for _ in 0..<3 where got < count {
            let next = blocks.nextToClaim(count - got, in: range, taken: known.taken, startingAt: offset)
            guard !next.isEmpty else { break }
            known.taken.formUnion(next)
            guard try await store.claim(pod: pod, firsts: next, lease: lease, host: host) else {
                try await reread(pod: pod, range: range, lease: lease, blocks: &blocks, known: &known, store: store, server: server)
                continue
            }
            try await adoptRecords(inBlocks: next, of: range, blocks: blocks, server: server)
            blocks.setHeld((blocks.held[pod] ?? []) + next, pod: pod)
            got += next.count
        }
        if got > 0 { logger.debug("claimed \(got) discovery blocks", metadata: ["pod": "\(pod)", "held": "\(blocks.held[pod]?.count ?? 0)"]) }
    }

    // MARK: Records

    /// The records written since the last read, read again every 5 s beside the watch: seen
    /// here, the gateway's watch stream can hold its last events back until more arrive (a host
    /// killed right after its last ACKs then leaves them unseen), so what the watch misses is
    /// found within 5 s, at the cost of what changed, not of every record in the zone.
    private func rereadRecords(_ server: DHCPServer, from start: Int64) async {
        var since = start
        while !Task.isCancelled {
            try? await Task.sleep(for: .seconds(5))
            guard let (records, revision) = try? await EtcdLeaseRecords.all(kv: client, keys: keys, since: since) else { continue }
            since = revision
            await server.adopt(records.filter { $0.host != host }.map(\.lease))
        }
    }

    private func followRecords(_ server: DHCPServer, from start: Int64) async {
        var failing = false
        var from: Int64? = start
        while !Task.isCancelled {
            do {
                let revision: Int64
                if let from {
                    revision = from
                } else {
                    // The watch broke: read everything again, then watch from there.
                    let (records, read) = try await EtcdLeaseRecords.all(kv: client, keys: keys)
                    await server.adopt(records.map(\.lease))
                    revision = read + 1
                    if failing { logger.info("lease records from etcd followed again: \(records.count)") }
                    failing = false
                }
                from = nil
                let watch = client.watch(EtcdWatchRequest(key: keys.leaseRecords, rangeEnd: keys.leaseRecords.prefixRangeEnd,
                                                          startRevision: revision))
                for try await message in watch {
                    // Another host's leases; this host's own are in its table already, and newer.
                    let leases = message.events.compactMap { event -> Lease? in
                        guard event.kind == .put, let record = EtcdLeaseRecord.decode(event.kv.value), record.host != host else { return nil }
                        return record.lease
                    }
                    await server.adopt(leases)
                }
            } catch {
                if Task.isCancelled { return }
                if !failing { logger.info("lease records from etcd not followed for now: \(error)") }
                failing = true
                try? await Task.sleep(for: .seconds(1))
            }
        }
    }
}
