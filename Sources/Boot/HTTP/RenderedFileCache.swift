import Synchronization
import Zone

/// Host files already rendered for the running revision, so a host that fetches its
/// script again (iPXE retries, cloud-init polling, a boot storm) is not rendered again.
///
/// An entry is keyed on everything a rendering reads: the revision value (its
/// `instance`, new for every load, so an apply, SIGHUP or rollback can never be answered
/// with an older revision's text), the host, the file, and the lease facts the template
/// sees (`mac`, `serial`, `model`). The access check is not cached: it runs for every
/// request before the cache is asked.
///
/// Bounded: it holds one revision's files only (the first request that carries another
/// revision drops every entry at once), and at most `maximumBytes` of them. 10,000 hosts
/// with a few kickstart-sized files each would otherwise keep hundreds of MiB for as long
/// as the revision runs. Past the cap it is emptied wholesale rather than evicting one
/// entry at a time: no bookkeeping per hit, and the files hosts fetch again soon come
/// back first.
public final class RenderedFileCache: Sendable {
    /// Everything a rendering depends on, besides the revision.
    struct Key: Hashable, Sendable {
        var host: String
        var file: String
        var facts: [String: String]
    }

    private struct State {
        var revision: UInt64?
        var files: [Key: RenderedFile] = [:]
        var bytes = 0
        var hits = 0
        var renders = 0
    }

    /// A guess at what one entry costs besides its text (dictionary slot, key, struct).
    static let entryOverhead = 256
    public let maximumBytes: Int
    private let state = Mutex(State())

    /// 64 MiB holds 10,000 hosts' boot scripts and a few small files each.
    public init(maximumBytes: Int = 64 << 20) { self.maximumBytes = maximumBytes }

    /// Lookups answered from the cache, and renderings done for it since it started.
    public var counts: (hits: Int, renders: Int) { state.withLock { ($0.hits, $0.renders) } }

    /// Entries held and their estimated size.
    public var size: (entries: Int, bytes: Int) { state.withLock { ($0.files.count, $0.bytes) } }

    /// The file as `render` makes it for these inputs, rendered once per revision value.
    /// `render` runs outside the lock, so concurrent requests never wait on a rendering;
    /// two of them may render the same file at once and both answers are the same.
    func file(_ file: String, of host: String, revision: ZoneRevision, facts: [String: String],
              render: () -> RenderedFile?) -> RenderedFile? {
        let key = Key(host: host, file: file, facts: facts)
        let cached: RenderedFile? = state.withLock { state in
            guard state.revision == revision.instance, let found = state.files[key] else { return nil }
            state.hits += 1
            return found
        }
        if let cached { return cached }
        guard let rendered = render() else { return nil }
        let cost = Self.entryOverhead + host.utf8.count + file.utf8.count + rendered.content.utf8.count
            + facts.reduce(0) { $0 + $1.key.utf8.count + $1.value.utf8.count }
        var dropped: [Key: RenderedFile] = [:]
        state.withLock { state in
            state.renders += 1
            if state.revision != revision.instance || state.bytes + cost > maximumBytes {
                // Another revision's files can never be served again, and a full cache
                // makes room: all of it goes at once (freed below, outside the lock). A
                // request that read the revision just before a swap may empty it once more.
                state.revision = revision.instance
                swap(&dropped, &state.files)
                state.bytes = 0
            }
            // Another request may have rendered the same file meanwhile: counted once.
            guard cost <= maximumBytes, state.files.updateValue(rendered, forKey: key) == nil else { return }
            state.bytes += cost
        }
        dropped.removeAll()
        return rendered
    }
}
