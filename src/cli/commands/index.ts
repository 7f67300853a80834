/** Every command, in the order `palm help` lists them. */
import type { Command } from '../command.js'
import { init } from './init.js'
import { join } from './join.js'
import { mount } from './mount.js'
import { unmount } from './unmount.js'
import { status } from './status.js'
import { peers } from './peers.js'
import { invite } from './invite.js'
import { remove } from './remove.js'
import { serve } from './serve.js'
import { fsck } from './fsck.js'
import { gc } from './gc.js'
import { get } from './get.js'
import { info } from './info.js'
import { demo } from './demo.js'
import { drain } from './drain.js'

export const COMMANDS: Command[] = [init, join, mount, unmount, status, peers, invite, remove, serve, info, fsck, gc, drain, get, demo]
