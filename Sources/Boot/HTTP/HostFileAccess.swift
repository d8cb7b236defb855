import Addressing
import Zone

/// What `GET /hosts/<name>/<file>` gets: a host reads only its own rendered files.
public enum HostFileAnswer: Sendable, Equatable {
    case file(RenderedFile)
    /// `/hosts/<name>/booted`: the host's script reached its end; nothing to send back.
    case booted(name: String)
    case forbidden(String)
    case notFound(String)
}

public enum HostFileAccess {
    /// The marker a boot script fetches last, so the server's records show which host's
    /// script ran to the end and from where.
    public static let bootedMarker = "booted"

    /// A request is the host's own when its source address holds a live lease that names
    /// the host: the address only the host's port is given (or, under proxyDHCP, the
    /// address another server gave and the host's boot request bound to it). A machine on
    /// another port, or on a discovery address, cannot read another host's kickstart.
    ///
    /// With a `cache`, the rendering is taken from it (keyed on the revision and every
    /// input given to the template); the check above runs for every request all the same.
    public static func answer(host name: String, file: String, from client: IPv4Address,
                              revision: ZoneRevision, now: Int64, cache: RenderedFileCache? = nil,
                              lease: (IPv4Address) -> Lease?) -> HostFileAnswer {
        guard let identity = revision.identity(named: name) else {
            return .notFound("no host \(name) in zone \(revision.zoneName)")
        }
        if let refusal = refusal(host: name, from: client, now: now, lease: lease) { return .forbidden(refusal) }
        guard let lease = lease(client) else { return .forbidden("\(client) holds no lease") }
        if file == bootedMarker { return .booted(name: name) }
        var facts = ["mac": MAC.text(lease.mac)]
        // What the machine said it is, for templates (`serial`, `model`) where it said so.
        if let serial = lease.device?.serial { facts["serial"] = serial }
        if let model = lease.device?.model { facts["model"] = model }
        let rendered = if let cache {
            cache.file(file, of: name, revision: revision, facts: facts) {
                HostFiles.render(file, of: identity, in: revision, facts: facts, revealingSecrets: true)
            }
        } else {
            HostFiles.render(file, of: identity, in: revision, facts: facts, revealingSecrets: true)
        }
        guard let rendered else {
            return .notFound("\(name) has no file \(file)")
        }
        return .file(rendered)
    }

    /// Why `client` is not the host `name` now (it holds no bound, live lease naming the
    /// host), or nil when it is: the one rule for what only a host itself may read.
    public static func refusal(host name: String, from client: IPv4Address, now: Int64,
                               lease: (IPv4Address) -> Lease?) -> String? {
        guard let lease = lease(client), lease.state == .bound, lease.isActive(at: now) else {
            return "\(client) holds no lease"
        }
        guard lease.name == name else { return "\(client) is not \(name)'s address" }
        return nil
    }
}
