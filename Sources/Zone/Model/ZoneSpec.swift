import Addressing

/// The zone file as written (version 1; docs/zone-format.md in this repository is the
/// contract), decoded and type-checked but not yet expanded. Positions are kept for
/// every value that a later check may need to point at.
///
/// This file holds the zone-wide sections (naming, defaults); the others are modelled
/// beside it: pods with their networks, switches and ports (ZoneSpec+Pods), roles and
/// their hand-off to Chef, Ansible and ZTP (ZoneSpec+Roles), boot profiles
/// (ZoneSpec+Profiles) and hooks with their events (ZoneSpec+Hooks).
public struct ZoneSpec: Sendable {
    public var apiVersion: String
    public var zone: Located<String>
    public var domain: Located<String>
    public var naming: Naming
    public var defaults: Defaults
    public var pods: [Pod]
    public var roles: [Role]
    public var profiles: [Profile]
    public var hooks: [Hook]

    public struct Naming: Sendable {
        public var host: Located<NameTemplate>
        public var lom: Located<NameTemplate>
        public var `switch`: Located<NameTemplate>
    }

    public struct Defaults: Sendable {
        public var lease: Located<Duration>
        public var dns: [Located<IPv4Address>]
        public var ntp: [Located<IPv4Address>]
        public var bootServer: Located<IPv4Address>?
    }
}
