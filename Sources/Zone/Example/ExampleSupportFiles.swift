extension ExampleZone {
    /// The templates and hook a generated zone names, the same as zones/ in the repository
    /// (a test keeps them equal), so that an installed `zonectl` writes a complete zone.
    public static let supportFiles: [String: String] = [
        "templates/centos7.ipxe": #"""
#!ipxe
# {{name}} ({{fqdn}}): {{pod}} rack {{rack}} unit {{unit}}, {{switch}} port {{port}}
set base {{boot_url}}/files/centos7
kernel ${base}/vmlinuz initrd=initrd.img inst.ks={{boot_url}}/hosts/{{name}}/ks.cfg ip={{address}}::{{gateway}}:{{netmask}}:{{name}}:eth0:none{{#dns}} nameserver={{.}}{{/dns}}
initrd ${base}/initrd.img
boot

"""#,
        "templates/centos7-ks.cfg": #"""
# Kickstart for {{fqdn}}, rendered by ZoneBoot from the zone file.
# Identity: {{pod}} rack {{rack}} unit {{unit}} on {{switch}}/{{port}}, role {{role}}.
text
url --url={{boot_url}}/files/centos7/os
lang en_US.UTF-8
keyboard us
timezone UTC --utc
network --bootproto=static --ip={{address}} --netmask={{netmask}} --gateway={{gateway}} --nameserver={{#dns}}{{.}}{{^last()}},{{/last()}}{{/dns}} --hostname={{fqdn}} --activate
rootpw --lock
zerombr
clearpart --all --initlabel
autopart --type=lvm
bootloader --location=mbr
reboot

%packages
@^minimal
qemu-kvm
libvirt
%end

%post --log=/root/zoneboot-post.log
# Hand the host to configuration management.
curl -fsS {{boot_url}}/hosts/{{name}}/booted
%end

"""#,
        "hooks/register-bmc": #"""
#!/bin/sh
# Example hook: receives the event as JSON on stdin. A real one would register the
# BMC over Redfish; this one appends the event to a log next to the state.
set -eu
cat >> "${ZONEBOOT_STATE:-/tmp}/register-bmc.log"
echo >> "${ZONEBOOT_STATE:-/tmp}/register-bmc.log"

"""#,
    ]
}
