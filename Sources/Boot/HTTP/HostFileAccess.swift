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

/// Why a request is not the host's own (`HostFileAccess.owner`).
public struct NotTheOwner: Error, Equatable, Sendable {
    public var why: String
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
        let identity: Identity, held: Lease
        if let declared = revision.identity(named: name) {
            switch owner(of: name, from: client, now: now, lease: lease) {
            case .success(let owned): (identity, held) = (declared, owned)
            case .failure(let refusal): return .forbidden(refusal.why)
            }
        } else if let discovered = discoveryHolder(named: name, from: client, revision: revision, now: now, lease: lease) {
            // An unknown machine reads its discovery profile's files under its discovery name.
            (identity, held) = discovered
        } else {
            return .notFound("no host \(name) in zone \(revision.zoneName)")
        }
        if file == bootedMarker { return .booted(name: name) }
        var facts = ["mac": MAC.text(held.mac)]
        // What the machine said it is, for templates (`serial`, `model`) where it said so.
        if let serial = held.device?.serial { facts["serial"] = serial }
        if let model = held.device?.model { facts["model"] = model }
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

    /// The discovery identity named `name` when `client` holds the live discovery lease it is made of.
    static func discoveryHolder(named name: String, from client: IPv4Address, revision: ZoneRevision, now: Int64,
                                lease: (IPv4Address) -> Lease?) -> (Identity, Lease)? {
        guard let held = lease(client), held.state == .bound, held.isActive(at: now),
              let identity = DiscoveryIdentity.make(held, revision: revision), identity.name == name else { return nil }
        return (identity, held)
    }

    /// The live lease by which `client` is `name`'s own address (the rule above), or why it is not.
    /// The Ansible host variables and Chef node JSON of one host are served by the same rule.
    public static func owner(of name: String, from client: IPv4Address, now: Int64,
                             lease: (IPv4Address) -> Lease?) -> Result<Lease, NotTheOwner> {
        guard let lease = lease(client), lease.state == .bound, lease.isActive(at: now) else {
            return .failure(NotTheOwner(why: "\(client) holds no lease"))
        }
        guard lease.name == name else { return .failure(NotTheOwner(why: "\(client) is not \(name)'s address")) }
        return .success(lease)
    }
}
