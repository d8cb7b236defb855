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
/// - Blocks: it holds an etcd lease (`ttl` seconds, renewed every quarter of it) and claims
///   blocks of each pod's discovery range under it, ahead of need, off the DHCP hot path
///   (`DiscoveryBlocks` decides which and how many); the engine allocates only inside them.
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
    let keys: EtcdZoneKeys
    /// Names this host in block values and lease records (its server identifier).
    let host: String
    let revisions: RevisionHolder
    let server: @Sendable () -> DHCPServer?
    let blockSize: Int
    let ttl: Int64
    let logger: Logger

    public init(client: EtcdClient, keys: EtcdZoneKeys, host: String, revisions: RevisionHolder,
                server: @escaping @Sendable () -> DHCPServer?, blockSize: Int = DiscoveryBlocks.defaultBlockSize, ttl: Int64 = 10,
                logger: Logger) {
        self.client = client
        self.keys = keys
        self.host = host
        self.revisions = revisions
        self.server = server
        self.blockSize = blockSize
        self.ttl = ttl
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
                    await withDiscardingTaskGroup { group in
                        group.addTask { await coordinateBlocks(server) }
                        group.addTask { await followRecords(server, from: revision + 1) }
                        group.addTask { await rereadRecords(server) }
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

    private func coordinateBlocks(_ server: DHCPServer) async {
        let claimsStore = EtcdDiscoveryBlockClaims(kv: client, keys: keys)
        var blocks = DiscoveryBlocks(blockSize: blockSize, available: false)
        var lease: Int64?
        var renewed = ContinuousClock.now
        var lostSince: ContinuousClock.Instant?
        var started = false
        var lastFree: [String: Int] = [:]
        // Where this host starts looking for free blocks: spread by its address, so hosts
        // starting together do not race for the same ones.
        let offset = Int((UInt64(IPv4Address(host)?.value ?? 0) &* 2_654_435_761) % 1_000_003)
        while !Task.isCancelled {
            do {
                if lease == nil {
                    lease = try await client.grantLease(ttlSeconds: ttl).id
                    renewed = .now
                    blocks.dropAll()
                } else if ContinuousClock.now - renewed >= .seconds(ttl) / 4, let id = lease {
                    let answer = try await client.keepAlive(lease: id)
                    guard answer.ttl > 0 else { throw LeaseExpired() }
                    renewed = .now
                }
                guard let lease else { continue }
                let ranges = self.ranges
                let free = await server.freeInHeldBlocks(ranges: ranges, limit: 8 * blockSize)
                for (pod, range) in ranges.sorted(by: { $0.key < $1.key }) {
                    let inHand = free[pod] ?? 0
                    let used = max(0, (lastFree[pod] ?? inHand) - inHand)
                    let wanted = blocks.blocksWanted(free: inHand, usedSinceLastLook: used)
                    if wanted > 0 || blocks.held[pod] == nil {
                        try await claim(max(wanted, 1), pod: pod, range: range, lease: lease, blocks: &blocks,
                                        store: claimsStore, server: server, offset: offset)
                    }
                    lastFree[pod] = await server.freeInHeldBlocks(ranges: [pod: range], limit: 8 * blockSize)[pod] ?? 0
                }
                blocks.available = true
                await server.coordinate(blocks)
                let held = blocks.held.values.reduce(0) { $0 + $1.count }
                if let since = lostSince {
                    lostSince = nil
                    logger.notice("discovery resumed: etcd answers again; discovery addresses given from \(held) blocks of \(blockSize) held under etcd lease \(lease)",
                                  metadata: ["after": "\(ContinuousClock.now - since)"])
                } else if !started {
                    logger.info("discovery addresses given from \(held) blocks of \(blockSize) claimed under etcd lease \(lease)")
                }
                started = true
            } catch {
                if Task.isCancelled { break }
                if error is LeaseExpired || (error as? EtcdError).map(Self.leaseIsGone) == true {
                    // Its blocks are gone (or going) with it: start over with a new lease.
                    lease = nil
                    blocks.dropAll()
                }
                if lostSince == nil {
                    lostSince = .now
                    logger.warning("discovery stopped: etcd is out of reach, discovery addresses are neither given nor renewed until it answers again (declared ports are answered as ever): \(error)")
                }
                blocks.available = false
                await server.coordinate(blocks)
            }
            // Not renewed for half the TTL: stop before another host may take the blocks.
            if blocks.available && ContinuousClock.now - renewed > .seconds(ttl) / 2 {
                blocks.available = false
                await server.coordinate(blocks)
            }
            try? await Task.sleep(for: .milliseconds(100))
        }
        if let lease { try? await client.revokeLease(lease) }
    }

    private struct LeaseExpired: Error, CustomStringConvertible {
        var description: String { "this host's etcd lease expired; its discovery blocks returned to the pool" }
    }

    /// etcd says the lease does not exist (gRPC NotFound): it expired.
    private static func leaseIsGone(_ error: EtcdError) -> Bool {
        if case .server(let code, _) = error { return code == 5 }
        return false
    }

    /// Claims up to `count` free blocks of `pod`, and reads the lease records inside each
    /// claimed one before the engine may use it.
    private func claim(_ count: Int, pod: String, range: IPv4Range, lease: Int64, blocks: inout DiscoveryBlocks,
                       store: EtcdDiscoveryBlockClaims, server: DHCPServer, offset: Int) async throws {
        let claimed = try await store.claimed(pod: pod)
        // What etcd says this lease holds is the truth: a claim whose answer was lost (or whose
        // records were not read) is this host's too, once its records are read.
        let ours = claimed.filter { $0.value == lease }.keys
        for first in ours where !(blocks.held[pod] ?? []).contains(first) {
            let inside = try await EtcdLeaseRecords.records(kv: client, keys: keys, addresses: blocks.addresses(ofBlock: first, in: range))
            await server.adopt(inside.map(\.lease))
        }
        blocks.setHeld(ours, pod: pod)
        var taken = Set(claimed.keys)
        var got = 0
        while got < count, let next = blocks.nextToClaim(in: range, taken: taken, startingAt: offset) {
            taken.insert(next)
            guard try await store.claim(pod: pod, first: next, lease: lease, host: host) else { continue }
            let inside = try await EtcdLeaseRecords.records(kv: client, keys: keys, addresses: blocks.addresses(ofBlock: next, in: range))
            await server.adopt(inside.map(\.lease))
            blocks.setHeld((blocks.held[pod] ?? []) + [next], pod: pod)
            got += 1
        }
        if got > 0 { logger.debug("claimed \(got) discovery blocks", metadata: ["pod": "\(pod)", "held": "\(blocks.held[pod]?.count ?? 0)"]) }
    }

    // MARK: Records

    /// Every record read again every 5 s beside the watch: seen here, the gateway's watch
    /// stream can hold its last events back until more arrive (a host killed right after its
    /// last ACKs then leaves them unseen), so what the watch misses is found within 5 s.
    private func rereadRecords(_ server: DHCPServer) async {
        while !Task.isCancelled {
            try? await Task.sleep(for: .seconds(5))
            guard let (records, _) = try? await EtcdLeaseRecords.all(kv: client, keys: keys) else { continue }
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
