/// The sizes and use order of the files in the TFTP upstream cache, to keep the cache under a
/// byte cap: pure bookkeeping (the cache deletes what this says to evict).
///
/// The cap counts cached files and the fills in progress together (a fill reserves its
/// Content-Length when the response head arrives), so disk use never passes it, whatever
/// names clients ask for. The least recently used files go first.
public struct TFTPCacheIndex: Sendable {
    public let capacity: UInt64
    /// Bytes of the cached files.
    public private(set) var storedBytes: UInt64 = 0
    /// Bytes reserved by fills in progress.
    public private(set) var reservedBytes: UInt64 = 0

    private struct Entry {
        var size: UInt64
        var lastUse: UInt64
    }

    private var entries: [String: Entry] = [:]
    private var reservations: [String: UInt64] = [:]
    private var clock: UInt64 = 0

    public enum Reservation: Sendable, Hashable {
        /// Room made: delete these cached files first (already forgotten here).
        case granted(evict: [String])
        /// Larger than the whole cap: never cached.
        case tooLarge
        /// Fills in progress hold the room; nothing was evicted.
        case full
    }

    public init(capacity: UInt64) { self.capacity = capacity }

    public var paths: Set<String> { Set(entries.keys) }
    public func size(of path: String) -> UInt64? { entries[path]?.size }

    /// Records a file already in the cache (at startup, oldest first); returns what must be
    /// deleted to stay under the cap (the least recently used, when the cap was lowered).
    public mutating func insert(_ path: String, size: UInt64) -> [String] {
        remove(path)
        guard size <= capacity else { return [path] }
        clock += 1
        entries[path] = Entry(size: size, lastUse: clock)
        storedBytes += size
        return evict(toFit: 0, keeping: path)
    }

    /// Marks a cached file as just used.
    public mutating func used(_ path: String) {
        guard entries[path] != nil else { return }
        clock += 1
        entries[path]?.lastUse = clock
    }

    /// Room for a fill of `bytes` for `path`, evicting least recently used files if needed.
    /// The old copy of `path` itself may go: the fill replaces it.
    public mutating func reserve(_ bytes: UInt64, for path: String) -> Reservation {
        guard bytes <= capacity else { return .tooLarge }
        // Fills in progress cannot be evicted: if they alone leave no room, refuse now.
        guard reservedBytes - (reservations[path] ?? 0) <= capacity - bytes else { return .full }
        cancel(path)
        let evicted = evict(toFit: bytes, keeping: nil)
        reservations[path] = bytes
        reservedBytes += bytes
        return .granted(evict: evicted)
    }

    /// A fill completed: its file replaces any older copy and counts as just used.
    public mutating func commit(_ path: String, size: UInt64) {
        cancel(path)
        remove(path)
        clock += 1
        entries[path] = Entry(size: size, lastUse: clock)
        storedBytes += size
    }

    /// A fill failed or was dropped: its reservation is given back.
    public mutating func cancel(_ path: String) {
        if let bytes = reservations.removeValue(forKey: path) { reservedBytes -= bytes }
    }

    /// Forgets a cached file (deleted, or found missing).
    public mutating func remove(_ path: String) {
        if let old = entries.removeValue(forKey: path) { storedBytes -= old.size }
    }

    private mutating func evict(toFit bytes: UInt64, keeping kept: String?) -> [String] {
        var evicted: [String] = []
        while storedBytes + reservedBytes + bytes > capacity {
            var oldest: (path: String, lastUse: UInt64)?
            for (path, entry) in entries where path != kept && entry.lastUse < (oldest?.lastUse ?? .max) {
                oldest = (path, entry.lastUse)
            }
            guard let oldest = oldest?.path else { break }
            remove(oldest)
            evicted.append(oldest)
        }
        return evicted
    }
}
