package emu

import (
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/creack/pty"
	"golang.org/x/sys/unix"
)

// PTY is a pseudo-terminal for an emulated board: the emulator reads and writes Master, a host opens
// Path (the slave device) as its serial port.
type PTY struct {
	Master *os.File
	Path   string
	slave  *os.File
}

// OpenPTY opens a pseudo-terminal with its slave in raw mode (no echo, no line editing, no CR/LF
// translation: a binary protocol passes unchanged). The master is non-blocking, so closing it ends a
// Read in progress. The PTY keeps a slave descriptor open so that a host closing and reopening the
// port does not hang up the master.
func OpenPTY() (*PTY, error) {
	m, s, err := pty.Open()
	if err != nil {
		return nil, fmt.Errorf("open pty: %w", err)
	}
	t, err := unix.IoctlGetTermios(int(s.Fd()), unix.TCGETS)
	if err == nil {
		// cfmakeraw(3)
		t.Iflag &^= unix.IGNBRK | unix.BRKINT | unix.PARMRK | unix.ISTRIP | unix.INLCR | unix.IGNCR | unix.ICRNL | unix.IXON
		t.Oflag &^= unix.OPOST
		t.Lflag &^= unix.ECHO | unix.ECHONL | unix.ICANON | unix.ISIG | unix.IEXTEN
		t.Cflag &^= unix.CSIZE | unix.PARENB
		t.Cflag |= unix.CS8
		err = unix.IoctlSetTermios(int(s.Fd()), unix.TCSETS, t)
	}
	if err != nil {
		m.Close()
		s.Close()
		return nil, fmt.Errorf("pty %s raw mode: %w", s.Name(), err)
	}
	// pty.Open leaves the master in blocking mode, where Close waits for a Read in progress; a
	// non-blocking duplicate goes through the runtime poller instead.
	fd, err := unix.Dup(int(m.Fd()))
	if err == nil {
		err = unix.SetNonblock(fd, true)
		if err != nil {
			unix.Close(fd)
		}
	}
	m.Close()
	if err != nil {
		s.Close()
		return nil, fmt.Errorf("pty %s master: %w", s.Name(), err)
	}
	return &PTY{Master: os.NewFile(uintptr(fd), "/dev/ptmx"), Path: s.Name(), slave: s}, nil
}

// Close closes the master (a host on the slave sees a hang-up) and the kept slave descriptor.
func (p *PTY) Close() error {
	return errors.Join(p.Master.Close(), p.slave.Close())
}

// ServePTY serves b on pseudo-terminals until ctx is done, and returns nil then. When link is not
// empty, link is a symbolic link to the current pty's slave (as udev's /dev/serial/by-id links are),
// replaced atomically. ready, when not nil, gets the device path (link, or the slave) each time the
// board appears. On Disconnect the link is removed and the pty closed, so the device disappears;
// on Reconnect a new pty appears behind the same link.
func (b *Board) ServePTY(ctx context.Context, link string, ready func(path string)) error {
	for {
		b.mu.Lock()
		back := b.back
		b.mu.Unlock()
		select {
		case <-ctx.Done():
			return nil
		case <-back:
		}
		p, err := OpenPTY()
		if err != nil {
			return err
		}
		path := p.Path
		if link != "" {
			tmp := link + ".new"
			os.Remove(tmp)
			if err := os.Symlink(p.Path, tmp); err != nil {
				p.Close()
				return fmt.Errorf("emu: link %s: %w", link, err)
			}
			if err := os.Rename(tmp, link); err != nil {
				p.Close()
				return fmt.Errorf("emu: link %s: %w", link, err)
			}
			path = link
		}
		if ready != nil {
			ready(path)
		}
		err = b.Serve(ctx, p.Master)
		if link != "" {
			os.Remove(link)
		}
		p.Close()
		switch {
		case errors.Is(err, ErrDisconnected):
			continue
		case ctx.Err() != nil:
			return nil
		default:
			return fmt.Errorf("emu: serve %s: %w", path, err)
		}
	}
}
