"""What instructors and students get out of grading: feedback, grades, the class report, manual grading."""
