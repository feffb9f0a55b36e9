"""Programs the mouse tests run inside the sandboxed shell (tests/ is on sys.path)."""

# a curses program that asks for the mouse (1000 + 1006, as ncurses does for xterm), counts clicks
# on its on-screen button and names the last event it got: "click" (press and release in one
# report), "press", "wheel up" or "other", with the cell it happened at
BUTTON_PROGRAM = r'''
import curses
def main(w):
    curses.mousemask(curses.ALL_MOUSE_EVENTS | curses.REPORT_MOUSE_POSITION)
    curses.mouseinterval(0)
    curses.curs_set(0)
    n = 0
    w.addstr(0, 0, "[ +1 ]")
    w.addstr(1, 0, "count 0")
    while True:
        ch = w.getch()
        if ch == ord("q"):
            break
        if ch != curses.KEY_MOUSE:
            continue
        try:
            _, x, y, _, b = curses.getmouse()
        except curses.error:
            continue
        what = ("click" if b & curses.BUTTON1_CLICKED else "press" if b & curses.BUTTON1_PRESSED
                else "wheel up" if b & curses.BUTTON4_PRESSED else "other")
        w.addstr(2, 0, f"got {what} at {x},{y}".ljust(40))
        if y == 0 and x < 6 and b & (curses.BUTTON1_PRESSED | curses.BUTTON1_CLICKED):
            n += 1
            w.addstr(1, 0, f"count {n}")
curses.wrapper(main)
'''
