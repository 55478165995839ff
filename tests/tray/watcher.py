"""A minimal StatusNotifierWatcher for the tray tests: owns org.kde.StatusNotifierWatcher on the
session bus, records items that register, and prints REGISTERED lines (with a monotonic
timestamp) so tests know when the tray's menu is on the bus."""
import time

from gi.repository import Gio, GLib

XML = '''<node><interface name="org.kde.StatusNotifierWatcher">
<method name="RegisterStatusNotifierItem"><arg type="s" direction="in"/></method>
<method name="RegisterStatusNotifierHost"><arg type="s" direction="in"/></method>
<property name="RegisteredStatusNotifierItems" type="as" access="read"/>
<property name="IsStatusNotifierHostRegistered" type="b" access="read"/>
<property name="ProtocolVersion" type="i" access="read"/>
<signal name="StatusNotifierItemRegistered"><arg type="s"/></signal>
<signal name="StatusNotifierItemUnregistered"><arg type="s"/></signal>
<signal name="StatusNotifierHostRegistered"/></interface></node>'''
items = []


def call(conn, sender, path, iface, method, params, inv):
    if method == 'RegisterStatusNotifierItem':
        s = params.unpack()[0]
        item = (sender + s) if s.startswith('/') else s
        items.append(item)
        print('REGISTERED', time.time(), sender, s, flush=True)
        conn.emit_signal(None, '/StatusNotifierWatcher', 'org.kde.StatusNotifierWatcher',
                         'StatusNotifierItemRegistered', GLib.Variant('(s)', (item,)))
    inv.return_value(None)


def prop(conn, sender, path, iface, p):
    return {'RegisteredStatusNotifierItems': GLib.Variant('as', items),
            'IsStatusNotifierHostRegistered': GLib.Variant('b', True),
            'ProtocolVersion': GLib.Variant('i', 0)}[p]


node = Gio.DBusNodeInfo.new_for_xml(XML)
Gio.bus_own_name(Gio.BusType.SESSION, 'org.kde.StatusNotifierWatcher', Gio.BusNameOwnerFlags.NONE,
                 lambda c, n: c.register_object('/StatusNotifierWatcher', node.interfaces[0], call, prop, None),
                 lambda *a: print('WATCHER_READY', flush=True), lambda *a: print('NAME_LOST', flush=True))
GLib.MainLoop().run()
