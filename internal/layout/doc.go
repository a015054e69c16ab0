// Package layout holds the rule that keeps pgpull readable from the bottom up, and the test that
// checks it: imports point down, never sideways or up, through five floors:
//
//	cmd/pgpull, bench          parse flags, wire, print
//	backup, walfeed, restore   one run of a command: sessions, stages and sinks put together
//	stages/*, sinks            one stage or one destination each, none importing another
//	pipeline                   what flows between stages, the byte budget, the stage runners
//	internal/*                 formats, sessions, codecs, stores: no pipeline, stage or sink
//
// A package may import packages of lower floors only; within internal/ they may import each other.
package layout
