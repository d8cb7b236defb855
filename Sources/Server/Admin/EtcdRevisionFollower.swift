import Etcd
import Foundation
import Logging
import ServiceLifecycle
import Store

/// With `--etcd`: keeps this host on the zone's head revision. It reads the head, follows it
/// (`ZoneAdministrator.follow`: load, then the same swap an apply makes), then watches the
/// head key and follows every new one, within milliseconds of another host's apply or rollback.
///
/// etcd out of reach changes nothing this host answers: the running revision stays (DHCP on
/// declared ports needs nothing else). The loss is logged once, the watch is tried again every
/// second at most, and its return is logged once, after catching up with the head. A watch that
/// breaks while etcd still answers (a member stopped) moves to another member without a line;
/// one that went silently dead (a partition) is found by reading the head every 5 s beside it.
/// Each revision this host runs from etcd is cached in its state directory (`EtcdRevisionCache`),
/// for a start while etcd is down.
public struct EtcdRevisionFollower: Service {
    let client: EtcdClient
    let store: EtcdRevisionStore
    let administrator: ZoneAdministrator
    let cachePath: String?
    let logger: Logger
    /// How often the head is read beside the watch (see `checkEvery`).
    let heartbeat: Duration

    public init(client: EtcdClient, store: EtcdRevisionStore, administrator: ZoneAdministrator, cachePath: String?,
                logger: Logger, heartbeat: Duration = .seconds(5)) {
        self.heartbeat = heartbeat
        self.client = client
        self.store = store
        self.administrator = administrator
        self.cachePath = cachePath
        self.logger = logger
    }

    public func run() async throws {
        await cancelWhenGracefulShutdown { await follow() }
        await client.shutdown()
    }

    private func follow() async {
        var lostSince: ContinuousClock.Instant?
        var cached: Int?
        var pause = Duration.milliseconds(100)
        while !Task.isCancelled {
            // Catch up first: events missed while the watch was down are in the head.
            let head: (head: EtcdRevisionHead, modRevision: Int64, storeRevision: Int64)?
            do {
                head = try await store.head()
                if let head { cached = try await catchUp(head.head.id, cached: cached) }
            } catch {
                if Task.isCancelled { return }
                if lostSince == nil {
                    lostSince = .now
                    let running = await administrator.current.revision.id
                    logger.warning("etcd lost: revision \(running) keeps running and answering; applies and rollbacks are refused until etcd answers (\(error))")
                }
                try? await Task.sleep(for: pause)
                pause = min(pause * 2, .seconds(1))
                continue
            }
            pause = .milliseconds(100)
            if let since = lostSince {
                lostSince = nil
                let running = await administrator.current.revision.id
                logger.notice("etcd back after \(since.duration(to: .now)): following the zone's head, running revision \(running)")
            }
            // From the revision just read on: nothing between the read and the watch is missed.
            let from = (head?.storeRevision ?? 0) + 1
            let watched = cached
            do {
                cached = try await withThrowingTaskGroup(of: Int?.self) { group in
                    defer { group.cancelAll() }
                    group.addTask { try await watch(from: from, cached: watched) }
                    group.addTask {
                        try await checkEvery(heartbeat)
                        return watched
                    }
                    return try await group.next() ?? watched
                }
            } catch {
                if Task.isCancelled { return }
                logger.debug("etcd watch ended (\(error)); reading the head and watching again")
            }
        }
    }

    /// Follows every new head the watch reports until the watch ends (etcd compacted past
    /// `from`: the caller reads the head again) or fails. Returns the cached revision's number.
    private func watch(from: Int64, cached: Int?) async throws -> Int? {
        var cached = cached
        for try await message in client.watch(EtcdWatchRequest(key: store.keys.head, startRevision: from)) {
            if message.compactRevision != 0 { break }
            for event in message.events where event.kind == .put {
                guard let head = EtcdRevisionHead.decode(event.kv.value) else {
                    logger.error("etcd: the head key \(event.kv.keyText) holds no revision number; ignored")
                    continue
                }
                cached = try await catchUp(head.id, cached: cached)
            }
        }
        return cached
    }

    /// A watch is silent while nothing changes, also when its connection is dead (a member
    /// that went away behind a partition sends no reset). So the head is read every `interval`:
    /// a failed read, or a head this host has not followed twice in a row, ends the watch, and
    /// the caller reads the head and watches anew (logging the loss if etcd does not answer).
    private func checkEvery(_ interval: Duration) async throws {
        var behind = 0
        while true {
            try await Task.sleep(for: interval)
            guard let head = try await store.head() else { continue }
            let running = await administrator.current.revision.id
            behind = head.head.id > running ? behind + 1 : 0
            if behind >= 2 { throw WatchMissedRevision(id: head.head.id) }
        }
    }

    /// Follows revision `id` unless this host runs it already; caches what runs. Returns the cached revision's number.
    private func catchUp(_ id: Int, cached: Int?) async throws -> Int? {
        let running = await administrator.current.revision.id
        guard id > running || (id == running && cached != id) else { return cached }
        guard let stored = try await store.revision(id: id) else {
            logger.error("etcd: the head names revision \(id), whose record is missing; revision \(running) kept running")
            return cached
        }
        if id > running { _ = await administrator.follow(stored) }
        guard await administrator.current.revision.id == id, let cachePath else { return cached }
        do { try EtcdRevisionCache.write(stored, path: cachePath) } catch {
            logger.warning("cannot cache revision \(id) in \(cachePath): \(error)")
        }
        return id
    }
}

/// The head moved on and the watch did not say so: it is taken down and made again.
struct WatchMissedRevision: Error, CustomStringConvertible {
    let id: Int
    var description: String { "the watch did not report revision \(id)" }
}
