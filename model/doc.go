// Package model is mailtrail's shared vocabulary: message flags, what each
// side of a sync looks like when observed (remote folder, local folder), the
// status rows that pair them, and the operations the planner emits.
//
// It has no I/O and imports nothing of the project. Every other package may
// import it; it imports none of them.
//
// Folder names in this package are canonical: the hierarchy separator is
// always '/', whatever the server's delimiter or the Maildir's `sep`. The
// adapters translate at their edge.
package model
