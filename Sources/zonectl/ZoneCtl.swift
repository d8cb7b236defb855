import AdminAPI
import ArgumentParser

@main
struct ZoneCtl: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "zonectl",
        abstract: "Manage a ZoneBoot zone: check a zone file, see what a port gets, plan and apply changes.",
        discussion: """
            A zone file declares every switch port of a zone and the identity of whatever is \
            plugged into it. Start with `zonectl validate zones/ams1.yaml`, look at one port with \
            `zonectl render zones/ams1.yaml --switch tor-a --port swp7`, then `zonectl plan` and \
            `zonectl apply`. The zone file reference is docs/zone-format.md.

            Commands that read or change a running zonebootd take --server URL (or $ZONEBOOT_SERVER).

            Exit status: 0 success; 1 an error, printed on standard error (a zone that does not load, \
            a refused or failed request); 2 `plan` only: there are changes; 64 a mistake in the command \
            line (an unknown option, a missing or malformed argument).
            """,
        version: ZoneBootVersion.text,
        subcommands: [
            Validate.self, Render.self, Plan.self, Apply.self, History.self, Rollback.self, Hosts.self, Leases.self,
            Status.self, Events.self, Secrets.self, BMCs.self, Inventory.self, ChefNodeCommand.self, Schema.self, Example.self,
        ]
    )
}
