"""Reads the tray's menu over com.canonical.dbusmenu like a tray host, and clicks items.

    probe.py tree                 print the menu tree
    probe.py click LABEL...       click the item reached by the path of labels
    probe.py json                 print the tree as JSON
Labels are matched after removing mnemonic underscores; a path element may be a prefix ending
in '*'."""
import json
import sys
import time

from gi.repository import Gio, GLib

bus = Gio.bus_get_sync(Gio.BusType.SESSION)


def call(dest, path, iface, method, args):
    return bus.call_sync(dest, path, iface, method, args, None, Gio.DBusCallFlags.NONE, 10000).unpack()


def menu():
    items = call('org.kde.StatusNotifierWatcher', '/StatusNotifierWatcher', 'org.freedesktop.DBus.Properties', 'Get',
                 GLib.Variant('(ss)', ('org.kde.StatusNotifierWatcher', 'RegisteredStatusNotifierItems')))[0]
    svc, _, path = items[-1].partition('/')
    props = call(svc, '/' + path, 'org.freedesktop.DBus.Properties', 'GetAll',
                 GLib.Variant('(s)', ('org.kde.StatusNotifierItem',)))[0]
    return svc, props['Menu'], props


def layout(svc, menu_path):
    _, root = call(svc, menu_path, 'com.canonical.dbusmenu', 'GetLayout', GLib.Variant('(iias)', (0, -1, [])))

    def convert(n):
        nid, p, kids = n
        label = p.get('label', '---' if p.get('type') == 'separator' else '').replace('_', '')
        return {'id': nid, 'label': label, 'enabled': p.get('enabled', True),
                'toggle': p.get('toggle-state', None), 'children': [convert(k) for k in kids]}
    return convert(root)


def matches(label, want):
    return label.startswith(want[:-1]) if want.endswith('*') else label == want


def find(node, path):
    for want in path:
        kids = [k for k in node['children'] if matches(k['label'], want)]
        if not kids:
            raise SystemExit(f'no item {want!r} under {node["label"]!r}: {[k["label"] for k in node["children"]]}')
        node = kids[0]
    return node


def show(node, depth=0):
    for k in node['children']:
        state = '' if k['enabled'] else ' (disabled)'
        tick = {1: ' [x]', 0: ' [ ]'}.get(k['toggle'], '')
        print('  ' * depth + k['label'] + tick + state)
        show(k, depth + 1)


def tree():
    svc, menu_path, _ = menu()
    return layout(svc, menu_path)


def by_id(node, nid):
    if node['id'] == nid:
        return node
    for k in node['children']:
        found = by_id(k, nid)
        if found:
            return found
    return None


def opened(svc, menu_path, node):
    """Says a submenu is about to show, as hosts do before they draw one (a lazy submenu makes
    its items then), and reads it again until its placeholder is gone."""
    call(svc, menu_path, 'com.canonical.dbusmenu', 'AboutToShow', GLib.Variant('(i)', (node['id'],)))
    for _ in range(50):
        fresh = by_id(layout(svc, menu_path), node['id'])
        if fresh and [k['label'] for k in fresh['children']] != ['…']:
            return fresh
        time.sleep(0.1)
    raise SystemExit(f'the submenu {node["label"]!r} was not made')


def click(path):
    """Clicks the item at `path` (labels), as a tray host does on a user's click, opening each
    submenu on the way."""
    svc, menu_path, _ = menu()
    node = layout(svc, menu_path)
    for want in path:
        node = find(node, [want])
        if node['children']:
            node = opened(svc, menu_path, node)
    call(svc, menu_path, 'com.canonical.dbusmenu', 'Event',
         GLib.Variant('(isvu)', (node['id'], 'clicked', GLib.Variant('s', ''), 0)))
    return node


if __name__ == '__main__':
    if sys.argv[1] == 'tree':
        _, _, props = menu()
        print('ICON', props.get('IconName', ''), 'STATUS', props.get('Status', ''))
        show(tree())
    elif sys.argv[1] == 'json':
        print(json.dumps(tree()))
    elif sys.argv[1] == 'click':
        print('CLICKED', click(sys.argv[2:])['label'])
