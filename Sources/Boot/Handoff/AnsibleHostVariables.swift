import Zone

/// The host variables of one role's hosts, in key order: the identity's facts as host
/// variables (`AnsibleInventory.hostVariable`, and `ansible_host`) and the role's
/// `ansible.vars`, merged once for all its hosts. A host's own are then its facts read
/// in this order, with its live state merged in.
///
/// Made per role, not per host: sorting and merging a dozen facts per host, as values,
/// was a third of writing a 100,000-host zone's inventory.
struct AnsibleHostVariables: Sendable {
    struct Entry: Sendable {
        let key: String
        /// `"key":`, as written.
        let keyJSON: [UInt8]
        /// The identity's fact of this name; nil for a role variable no fact shadows.
        let fact: HostFacts.IdentityFact?
        /// The role's variable of this name (where the identity has no such fact), and it
        /// written as `"key":value`.
        let variable: (value: ZoneValue, json: [UInt8])?
    }

    /// Sorted by key, each key once.
    let entries: [Entry]

    /// `roleVars`: sorted by key, each key once.
    init(roleVars: [ZoneValue.Member]) {
        var facts: [(key: String, value: HostFacts.IdentityFact)] = []
        for fact in HostFacts.IdentityFact.allCases {
            if fact == .address { facts.append(("ansible_host", fact)) }
            guard let key = AnsibleInventory.hostVariable(fact.key) else { continue }
            facts.append((key, fact))
        }
        facts.sort { $0.key < $1.key }
        func keyJSON(_ key: String) -> [UInt8] {
            var out = JSONWriter()
            out.key(key, first: true)
            return out.bytes
        }
        func variable(_ member: ZoneValue.Member) -> (value: ZoneValue, json: [UInt8]) {
            var out = JSONWriter()
            out.key(member.key, first: true)
            out.value(member.value)
            return (member.value, out.bytes)
        }
        // Identity facts win over role variables of the same name (which the zone check
        // refuses anyway): the variable is what a host without that fact has.
        var entries: [Entry] = []
        var (f, v) = (0, 0)
        while f < facts.count || v < roleVars.count {
            if v == roleVars.count || (f < facts.count && facts[f].key <= roleVars[v].key) {
                let shadowed = v < roleVars.count && roleVars[v].key == facts[f].key
                entries.append(Entry(key: facts[f].key, keyJSON: keyJSON(facts[f].key), fact: facts[f].value,
                                     variable: shadowed ? variable(roleVars[v]) : nil))
                if shadowed { v += 1 }
                f += 1
            } else {
                entries.append(Entry(key: roleVars[v].key, keyJSON: keyJSON(roleVars[v].key), fact: nil,
                                     variable: variable(roleVars[v])))
                v += 1
            }
        }
        self.entries = entries
    }

    /// One variable as `forEach` gives it.
    enum Variable {
        /// `entries[index]`'s fact, with this value.
        case fact(Int, HostFacts.IdentityFact.Value)
        /// `entries[index]`'s role variable.
        case variable(Int)
        case live(ZoneValue.Member)
    }

    /// Calls `body` with `identity`'s variables in key order; `live` (sorted by key, each
    /// key once) wins over both facts and role variables.
    func forEach(of identity: Identity, live: [ZoneValue.Member], _ body: (Variable) -> Void) {
        var next = 0
        // By index: a copy of an entry would retain each of its parts, per host.
        for index in entries.indices {
            while next < live.count, live[next].key < entries[index].key {
                body(.live(live[next]))
                next += 1
            }
            if next < live.count, live[next].key == entries[index].key {
                body(.live(live[next]))
                next += 1
            } else if let value = entries[index].fact?.fact(of: identity) {
                body(.fact(index, value))
            } else if entries[index].variable != nil {
                body(.variable(index))
            }
        }
        while next < live.count {
            body(.live(live[next]))
            next += 1
        }
    }

    /// The variables as one JSON object.
    func write(of identity: Identity, live: [ZoneValue.Member], into out: inout JSONWriter) {
        out.raw("{")
        var first = true
        forEach(of: identity, live: live) { variable in
            if !first { out.raw(",") }
            first = false
            switch variable {
            case .fact(let index, let value):
                out.raw(entries[index].keyJSON)
                out.fact(value)
            case .variable(let index):
                out.raw(entries[index].variable?.json ?? [])
            case .live(let member):
                out.key(member.key, first: true)
                out.value(member.value)
            }
        }
        out.raw("}")
    }

    /// The variables as members, sorted by key.
    func members(of identity: Identity, live: [ZoneValue.Member]) -> [ZoneValue.Member] {
        var members: [ZoneValue.Member] = []
        members.reserveCapacity(entries.count + live.count)
        forEach(of: identity, live: live) { variable in
            switch variable {
            case .fact(let index, let value): members.append(.init(entries[index].key, value.zoneValue))
            case .variable(let index): entries[index].variable.map { members.append(.init(entries[index].key, $0.value)) }
            case .live(let member): members.append(member)
            }
        }
        return members
    }
}
