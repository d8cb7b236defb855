import AdminAPI
import Addressing
import ArgumentParser
import Boot
import Zone

struct Render: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "render",
        abstract: "Show what a location gets: its identity, DHCP answer, boot script and files.",
        discussion: """
            Name the location by switch and port (as Option 82 names it: `--switch tor-a --port swp7`, \
            with `--pod` where switch names repeat across pods) or by the identity's name. Nothing is \
            sent anywhere: this is the answer the server would give. Without ZONE, the revision a running \
            zonebootd runs (--server or $ZONEBOOT_SERVER; a read token), rendered by the same code.
            """)

    @Argument(help: "The zone file (YAML); omitted: the running revision of --server.")
    var zone: String?

    @OptionGroup var remote: ServerOptions

    @Option(help: "The switch the machine is plugged into.")
    var `switch`: String?

    @Option(help: "The port on that switch (the relay's circuit-id, e.g. swp7).")
    var port: String?

    @Option(help: "The pod, where the switch name is not unique across pods.")
    var pod: String?

    @Option(help: "An identity's name instead of a location.")
    var name: String?

    @Option(name: .customLong("vendor-class"),
            help: ArgumentHelp("Show the answer to a requester that sends this option 60 (e.g. onie_vendor:x86_64-accton_as7712_32x-r0, CPQRIB3).",
                               discussion: "Without it, a switch port shows what its platform's own ZTP gets."))
    var vendorClass: String?

    @Flag(help: "Print JSON.")
    var json = false

    func validate() throws {
        if zone == nil && remote.explicitURL == nil {
            throw ValidationError("name a zone file, or a running zonebootd with --server URL (or $ZONEBOOT_SERVER)")
        }
        if name == nil && (self.switch == nil || port == nil) {
            throw ValidationError("name a location with --switch and --port, or an identity with --name")
        }
        if name != nil && (self.switch != nil || port != nil) {
            throw ValidationError("give either --name or --switch/--port, not both")
        }
    }

    func run() throws {
        let revision = try loadRevision()
        let identity = try find(in: revision)
        let answer = IdentityAnswer(identity: identity, revision: revision)
        let files = HostFiles.render(identity, in: revision)
        let requester = requester(for: answer)
        let bySwitchOS = vendorClass == nil ? Self.switchOSAnswers(answer) : []
        let hooks = Self.hooks(of: identity, in: revision)
        if json {
            try printJSON(RenderReport(identity: identity,
                                       dhcp: .init(yiaddr: identity.address, nextServer: answer.nextServer,
                                                   options: answer.options, bootScriptURL: answer.bootScriptURL,
                                                   requester: requester, bySwitchOS: bySwitchOS),
                                       hooks: hooks, files: files))
            return
        }
        print(Self.text(identity, answer, files, requester, bySwitchOS, hooks: hooks))
    }

    /// The hooks events about this location go to (its role's), with the events each takes;
    /// `zone.applied` is about the zone, not a location, and is left out. Webhook URLs redacted.
    static func hooks(of identity: Identity, in revision: ZoneRevision) -> [RenderReport.Hook] {
        HookSelection.hooks(of: identity, in: revision).compactMap { hook in
            let on = hook.on.map(\.value).filter { $0 != .zoneApplied }.map(\.rawValue)
            guard !on.isEmpty else { return nil }
            let action = switch hook.action {
            case .run(let path)?: "runs \(path)"
            case .post(let url)?: "POSTs to \(ZoneSpec.Hook.redactedURL(url))"
            case .builtin(let builtin)?: "built-in \(builtin.rawValue)"
            case nil: "nothing (the zone names no single action)"
            }
            return RenderReport.Hook(name: hook.name.value, on: on, action: action)
        }
    }

    /// The zone file named, else the source the server's running revision was loaded from.
    private func loadRevision() throws -> ZoneRevision {
        if let zone { return try loadZoneOrExit(zone) }
        let url = remote.url
        let running = try remote.client(url).get("/v1/revision/source", as: RunningSource.self)
        do {
            return try ZoneLoader.load(source: running.source)
        } catch {
            throw fail("\(running.revision.label) of \(url) does not load here (is zonectl older than the server?):\n"
                       + error.description)
        }
    }

    /// Who is assumed to ask, and the ZTP or boot options it gets: the `--vendor-class`
    /// given, else (on a switch port) the platform's own ZTP client.
    private func requester(for answer: IdentityAnswer) -> RenderReport.Requester? {
        guard vendorClass != nil || answer.ztp != nil else { return nil }
        let facts = RequestFacts.discover(vendorClass: vendorClass)
        let device = facts.device
        // The same choice the server makes, with every loader assumed installed.
        let target = DHCPPolicy.bootTarget(facts, answer, loaders: .all)
        return .init(vendorClass: vendorClass, kind: device.kind, model: device.model,
                     miscabled: !device.fits(answer.identity.kind), options: target?.options ?? [])
    }

    /// On a switch port whose role has `ztp`: what each switch OS's ZTP client, asking as it
    /// does, would be answered, and what it would do with that answer.
    static func switchOSAnswers(_ answer: IdentityAnswer) -> [RenderReport.Requester] {
        guard let platform = answer.ztp else { return [] }
        return SwitchZTPClient.allCases.map { client in
            let facts = client.discover
            let device = facts.device
            let miscabled = !device.fits(answer.identity.kind)
            let target = miscabled ? nil : DHCPPolicy.bootTarget(facts, answer, loaders: .all)
            return .init(vendorClass: facts.safeVendorClass, kind: device.kind, model: device.model, miscabled: miscabled,
                         options: target?.options ?? [],
                         action: target == nil ? nil : client.action(role: platform, installer: answer.installerURL != nil))
        }
    }

    private func find(in revision: ZoneRevision) throws -> Identity {
        if let name {
            guard let found = revision.identity(named: name) else {
                throw fail("no identity named '\(name)' in zone \(revision.zoneName)")
            }
            return found
        }
        let sw = self.switch ?? "", port = self.port ?? ""
        let candidates = revision.spec.pods.filter { pod == nil || $0.name.value == pod }
            .filter { $0.switches.contains { $0.name.value == sw } }
        guard !candidates.isEmpty else {
            throw fail("no switch '\(sw)'" + (pod.map { " in pod \($0)" } ?? "") + " in zone \(revision.zoneName)")
        }
        guard candidates.count == 1 else {
            throw fail("switch '\(sw)' is in pods \(candidates.map(\.name.value).joined(separator: ", ")): add --pod")
        }
        let location = Location(pod: candidates[0].name.value, switch: sw, port: port)
        guard let found = revision.identity(at: location) else {
            let discovery = candidates[0].discovery.map { "a discovery lease from \($0.range.value) (\($0.network.value))" }
            throw fail("\(location) is not declared in the zone: a request from there gets "
                + (discovery ?? "nothing (the pod has no discovery range)"))
        }
        return found
    }

    static func text(_ identity: Identity, _ answer: IdentityAnswer, _ files: [RenderedFile],
                     _ requester: RenderReport.Requester?, _ bySwitchOS: [RenderReport.Requester] = [],
                     hooks: [RenderReport.Hook] = []) -> String {
        var lines: [String] = []
        func row(_ key: String, _ value: String?) {
            if let value { lines.append("  " + key.padding(toLength: max(24, key.count + 1), withPad: " ", startingAt: 0) + value) }
        }
        lines.append("\(identity.location) → \(identity.name) (\(identity.kind.rawValue))")
        lines.append("")
        lines.append("Identity")
        row("name", identity.name)
        row("fqdn", identity.fqdn)
        row("address", "\(identity.address)/\(identity.subnet.prefixLength)")
        row("gateway", identity.gateway?.description)
        row("network", "\(identity.network) (\(identity.subnet))")
        row("role", identity.role)
        row("profile", identity.profile)
        row("rack", identity.rack.map(String.init))
        row("unit", identity.unit.map(String.init))
        row("manages", identity.managedHost)
        row("device", identity.device)
        lines.append("")
        lines.append("DHCP answer")
        row("yiaddr", identity.address.description)
        row("next-server", answer.nextServer?.description)
        for option in answer.options { row("\(option.code) \(option.name)", option.value.description) }
        row("iPXE script", answer.bootScriptURL)
        if let requester {
            lines.append("")
            lines.append("Asked by " + (requester.vendorClass.map { "vendor class '\($0)': " } ?? "a request that names nothing: ")
                + requester.kind.rawValue + (requester.model.map { " (\($0))" } ?? ""))
            if requester.miscabled {
                lines.append("  miscabled: \(requester.kind.rawValue) does not belong on a \(identity.kind.rawValue) port; "
                    + "it gets an address, no boot or ZTP file, and a host.miscabled event")
            } else if requester.options.isEmpty {
                lines.append("  no boot, ZTP or installer options")
            }
            for option in requester.options { row("\(option.code) \(option.name)", option.value.description) }
        }
        if !bySwitchOS.isEmpty {
            lines.append("")
            lines.append("By switch OS (role ztp: \(answer.ztp?.rawValue ?? "-"))")
            for nos in bySwitchOS {
                lines.append("  \(nos.kind.rawValue)" + (nos.options.isEmpty ? ": no ZTP or installer options" : ""))
                for option in nos.options { row("  \(option.code) \(option.name)", option.value.description) }
                if let action = nos.action { lines.append("    → \(action)") }
            }
        }
        lines.append("")
        if hooks.isEmpty {
            lines.append("Hooks: none for events about this location (role \(identity.role))")
        } else {
            lines.append("Hooks (events about this location, role \(identity.role))")
            for hook in hooks { row(hook.name, "on \(hook.on.joined(separator: ", ")): \(hook.action)") }
        }
        for file in files {
            lines.append("")
            lines.append("── /hosts/\(identity.name)/\(file.name) (from \(file.template)) ──")
            lines.append(file.content.hasSuffix("\n") ? String(file.content.dropLast()) : file.content)
        }
        return lines.joined(separator: "\n")
    }
}

struct RenderReport: Encodable {
    struct DHCP: Encodable {
        var yiaddr: IPv4Address
        var nextServer: IPv4Address?
        var options: [AnswerOption]
        var bootScriptURL: String?
        var requester: Requester?
        /// On a switch port with `ztp`: the answer to each switch OS's own ZTP client.
        var bySwitchOS: [Requester] = []
    }

    /// The requester assumed (`--vendor-class`, or a switch's own ZTP) and what it gets.
    struct Requester: Encodable {
        var vendorClass: String?
        var kind: DeviceKind
        var model: String?
        var miscabled: Bool
        var options: [AnswerOption]
        /// What that client does with the answer (run, merge, replace), where it acts on it.
        var action: String?
    }

    /// A hook that events about the location go to, and on which events.
    struct Hook: Encodable {
        var name: String
        var on: [String]
        var action: String
    }

    var identity: Identity
    var dhcp: DHCP
    var hooks: [Hook]
    var files: [RenderedFile]
}
